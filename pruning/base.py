"""`Strategy`: a pruning strategy derives the next mask from trained weights and the current mask."""

import abc
from typing import Optional

from foundations.hparams import HparamsError, PruningHparams
from pruning.mask import Mask


class PruningExhausted(HparamsError, ValueError):
    """Too few prunable weights survive to prune the next level; the message names the flags to change. Raised by
    `Strategy.prune` mid-run (a ValueError too, as before this class existed)."""


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

    @staticmethod
    def validate_names(pruning_hparams: PruningHparams, model) -> None:
        """Raise HparamsError for a well-formed but unknown name in the hparams (e.g. a tensor that is not
        prunable); `--display_output_location` checks only this. The default checks nothing."""

    @staticmethod
    def check_levels(pruning_hparams: PruningHparams, model, levels: int) -> None:
        """Raise HparamsError naming `--levels` (and the flags that decide the counts) if `levels` successive
        prunings of `model` cannot all be done, when that is known before training (e.g. from a deterministic
        counting rule). `model` may live on the meta device: only shapes may be read. The default checks nothing.
        """
