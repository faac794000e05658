"""`sparse_layerwise`: layerwise magnitude pruning (Han et al. 2015; the layerwise variant of Frankle & Carbin 2019,
Sec. 2): every prunable tensor that is not ignored loses the same fraction of its own surviving weights, smallest
trained magnitudes first, so each such tensor keeps (1 - f)^L of its weights after level L."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

from dataclasses import dataclass
from typing import Optional

from pruning import ranking
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """sparse_layerwise's flags: `--pruning_fraction` (of each tensor's surviving weights, per level) and
    `--pruning_layers_to_ignore` (exact tensor names)."""

    _name = 'Hyperparameters for Sparse Layerwise Pruning'


class Strategy(ranking.RankingStrategy):
    """Layerwise magnitude pruning (see the module docstring)."""

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def check_levels(pruning_hparams: PruningHparams, model, levels: int) -> None:
        ranking.check_levels(pruning_hparams, model, levels, per_tensor=True)

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Each non-ignored prunable tensor with R surviving weights loses exactly ceil(f x R) of them (f exact, see
        pruning/ranking.py), those with the smallest |trained weight| (ties: first position first). Ignored tensors
        keep their mask; the result is a subset of `current_mask` with its keys."""
        import torch
        mask = ranking.current_or_ones(current_mask, trained_model)
        state = trained_model.state_dict()
        for name in ranking.pool_names(pruning_hparams, trained_model):
            remaining = int(torch.count_nonzero(mask[name]))
            n = ranking.number_to_prune(pruning_hparams.pruning_fraction, remaining)
            mask = ranking.prune_lowest({name: state[name].abs()}, mask, [name], n)
        return mask
