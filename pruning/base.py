"""`Strategy`: a pruning strategy derives the next mask from trained weights and the current mask."""

import abc
from typing import Optional

from foundations.hparams import PruningHparams
from pruning.mask import Mask


class Strategy(abc.ABC):
    """A pruning strategy: its hyperparameters class and its `prune` function (one file per strategy, registered in
    pruning/registry.py)."""

    @staticmethod
    @abc.abstractmethod
    def get_pruning_hparams() -> type:
        """The strategy's PruningHparams subclass (its flags)."""

    @staticmethod
    @abc.abstractmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None) -> Mask:
        """The mask of the next level, from `trained_model`'s weights and the current mask (all ones if None)."""

    @staticmethod
    def validate(pruning_hparams: PruningHparams, model) -> None:
        """Raise HparamsError (naming the flag) if the hparams cannot prune `model` (e.g. unknown layer names)."""
