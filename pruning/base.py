"""`Strategy`: a pruning strategy derives the next mask from the current mask and the level's weights.

What a strategy may use (the lottery runner, lottery/runner.py `_prune_level`, supplies it):
  * `trained_model`: level L-1's trained weights (magnitude pruning after training: sparse_global,
    sparse_layerwise). Always given.
  * `starting_model` (only when the class sets `uses_starting_weights = True`): the weights level L-1 started
    from, i.e. the rewind point (initialisation, or the end of pretraining / rewinding) times the current mask, as a
    plain model of the same architecture whose pruned weights are 0. Pruning-at-initialisation methods (random,
    magnitude_init, snip, grasp, synflow; Frankle et al. 2021, "Pruning Neural Networks at Initialization: Why Are We
    Missing the Mark?") score these, not the trained weights.
  * `data` (only when the class sets `uses_data = True`): an iterable of training batches (x float32 (B, C, H, W),
    y int64 (B,)), one full pass in a fixed order (the training set shuffled with seed 0, augmented as in training,
    not split across torchrun processes). SNIP and GraSP take the first `--pruning_batches` batches; SynFlow only
    the shape of x (its input is all ones).
The mask is computed once, on the primary process, and saved; every process loads it (lottery/runner.py).
"""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import abc
from typing import Iterable, Optional, Tuple

from foundations.hparams import HparamsError, PruningHparams
from pruning.mask import Mask


class PruningExhausted(HparamsError, ValueError):
    """Too few prunable weights survive to prune the next level; the message names the flags to change. Raised by
    `Strategy.prune` mid-run (a ValueError too, as before this class existed)."""


class Strategy(abc.ABC):
    """A pruning strategy: its hyperparameters class and its `prune` function (one file per strategy, registered in
    pruning/registry.py)."""

    uses_starting_weights: bool = False  # prune() needs `starting_model` (see the module docstring).
    uses_data: bool = False  # prune() needs `data`.

    @staticmethod
    @abc.abstractmethod
    def get_pruning_hparams() -> type:
        """The strategy's PruningHparams subclass (its flags)."""

    @staticmethod
    @abc.abstractmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data: Optional[Iterable[Tuple[torch.Tensor, torch.Tensor]]] = None) -> Mask:
        """The mask of the next level (`current_mask` None means all ones).

        Every returned mask is a subset of `current_mask` (a pruned weight is never revived) and has the same keys
        (the model's prunable tensor names). `starting_model` and `data` are as in the module docstring; a strategy
        that does not declare them ignores them. Raises ValueError when a declared input is missing.
        """

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
