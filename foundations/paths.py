"""File and folder names inside a result folder. They match the original OpenLTH's, byte for byte."""

import os

from foundations.step import Step


def checkpoint(root: str) -> str:
    """The file holding the resume point of a run in result folder `root`."""
    return os.path.join(root, 'checkpoint.pth')


def logger(root: str) -> str:
    """The file holding a run's metrics in result folder `root`."""
    return os.path.join(root, 'logger')


def mask(root: str) -> str:
    """The file holding a level's mask in result folder `root`."""
    return os.path.join(root, 'mask.pth')


def sparsity_report(root: str) -> str:
    """The file holding the counts of a mask in result folder `root`."""
    return os.path.join(root, 'sparsity_report.json')


def model(root: str, step: Step) -> str:
    """`model_ep{E}_it{I}.pth`: the bare state_dict of the model at `step`."""
    return os.path.join(root, f'model_ep{step.ep}_it{step.it}.pth')


def hparams(root: str) -> str:
    """The file holding the readable hyperparameters in result folder `root`."""
    return os.path.join(root, 'hparams.log')


def hparams_json(root: str) -> str:
    """The file holding every hyperparameter (defaults included) as JSON in result folder `root` (new in open_lth)."""
    return os.path.join(root, 'hparams.json')
