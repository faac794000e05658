"""`TrainingDesc`: what the `train` subcommand trains (dataset, model, training); hashed into `train_<md5>`."""

import argparse
import os
from dataclasses import dataclass
from typing import Optional

from datasets import registry as datasets_registry
from foundations.desc import Desc
from foundations.hparams import DatasetHparams, HparamsError, ModelHparams, TrainingHparams, flag_name
from foundations.step import Step
from models import families
from platforms.platform import get_platform
from training import optimizers, precision


def check_runnable(dataset_hparams: DatasetHparams, training_hparams: TrainingHparams, platform,
                   dataset_prefix: Optional[str] = None, training_prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag) if this dataset and training recipe cannot run on `platform`.

    Shared by every workflow and run before anything is written: dataset name and transformations, optimizer and
    schedule, mixed precision, and every step string converted at the dataset's epoch length.
    """
    datasets_registry.validate(dataset_hparams, dataset_prefix)
    optimizers.validate(training_hparams, training_prefix)
    precision.validate(training_hparams, platform.torch_device, training_prefix)
    ipe = datasets_registry.iterations_per_epoch(dataset_hparams)
    for name in ('training_steps', 'warmup_steps', 'milestone_steps'):
        value = getattr(training_hparams, name)
        for item in (value.split(',') if value else []):
            try:
                Step.from_str(item, ipe)
            except ValueError as e:
                raise HparamsError(f'argument {flag_name(name, training_prefix)}: {item!r}: {e}') from None


def check_names(dataset_hparams: DatasetHparams, training_hparams: TrainingHparams,
                dataset_prefix: Optional[str] = None, training_prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag) for a well-formed but unknown name: dataset, unsupervised labels,
    optimizer, mixed-precision dtype. Reads no data and needs no device, so `--display_output_location` runs it
    (a known dataset that is not installed still has a location); `check_runnable` checks the rest."""
    datasets_registry.validate_names(dataset_hparams, dataset_prefix)
    optimizers.validate_names(training_hparams, training_prefix)
    precision.validate_names(training_hparams, training_prefix)


@dataclass
class TrainingDesc(Desc):
    """The hyperparameters of a `train` job. Hash order (sorted field names): dataset ; model ; training."""

    model_hparams: ModelHparams
    dataset_hparams: DatasetHparams
    training_hparams: TrainingHparams

    @staticmethod
    def name_prefix() -> str:
        return 'train'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, defaults=None) -> None:
        """Dataset, model and training flags; `defaults` (a LotteryDesc preset) supplies their defaults."""
        DatasetHparams.add_args(parser, defaults=defaults.dataset_hparams if defaults else None)
        ModelHparams.add_args(parser, defaults=defaults.model_hparams if defaults else None)
        TrainingHparams.add_args(parser, defaults=defaults.training_hparams if defaults else None)

    @staticmethod
    def create_from_args(args: argparse.Namespace) -> 'TrainingDesc':
        return TrainingDesc(ModelHparams.create_from_args(args), DatasetHparams.create_from_args(args),
                            TrainingHparams.create_from_args(args))

    @staticmethod
    def from_json_dict(data: dict) -> 'TrainingDesc':
        """The Desc saved by `to_json_dict` (`hparams.json`). Raises ValueError/KeyError/TypeError if malformed."""
        values = data['desc']
        return TrainingDesc(ModelHparams.from_dict(values['model_hparams']),
                            DatasetHparams.from_dict(values['dataset_hparams']),
                            TrainingHparams.from_dict(values['training_hparams']))

    def check_names(self) -> None:
        """Raise HparamsError for a well-formed but unknown name (model, initializer, dataset, optimizer, ...);
        what `--display_output_location` checks before it prints the folder."""
        families.check_names(self.model_hparams)
        check_names(self.dataset_hparams, self.training_hparams)

    def check_runnable(self, platform) -> None:
        """Raise HparamsError for any name or value that cannot run (unknown model or dataset, ...)."""
        from models import registry as models_registry
        models_registry.validate(self.model_hparams)
        check_runnable(self.dataset_hparams, self.training_hparams, platform)

    @property
    def end_step(self) -> Step:
        return Step.from_str(self.training_hparams.training_steps,
                             datasets_registry.iterations_per_epoch(self.dataset_hparams))

    @property
    def train_outputs(self) -> int:
        """Width of the output layer: the dataset's number of classes (4 with rotation labels)."""
        return datasets_registry.num_classes(self.dataset_hparams)

    def run_path(self, replicate: int, experiment: str = 'main', *, root: Optional[str] = None) -> str:
        """`<root>/train_<md5>/replicate_<replicate>/<experiment>`; root defaults to the running job's platform
        root (`get_platform().root`, the original's behaviour)."""
        root = get_platform().root if root is None else root
        return os.path.join(root, self.hashname, f'replicate_{replicate}', experiment)

    @property
    def display(self) -> str:
        return '\n'.join([self.dataset_hparams.display, self.model_hparams.display, self.training_hparams.display])
