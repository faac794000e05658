"""`random`: random pruning at initialisation (the trivial baseline of Frankle et al. 2021, "Pruning Neural Networks
at Initialization: Why Are We Missing the Mark?"): every surviving weight of the non-ignored prunable tensors gets a
score drawn uniformly from [0, 1) and the lowest are pruned, so in expectation every tensor keeps the same
density.

Scores come from a generator seeded with `--pruning_seed` (default 0), drawn tensor by tensor in the model's
`prunable_layer_names` order. The same seed gives every position the same score at every level, so the levels of
one run prune along one random ranking, and two runs (or two processes) give identical masks.
"""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

from dataclasses import dataclass
from typing import Dict, Optional

from pruning import ranking
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """random's flags: `--pruning_fraction`, `--pruning_layers_to_ignore` and `--pruning_seed`."""

    pruning_seed: int = 0

    _name = 'Hyperparameters for Random Pruning'
    _pruning_seed = 'The seed of the random scores (the same seed gives the same masks).'


def scores(model, seed: int) -> Dict[str, torch.Tensor]:
    """{prunable tensor name: uniform [0, 1) float64 scores of its shape}, drawn on the CPU from `seed`."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.rand(w.shape, generator=generator, dtype=torch.float64)
            for name, w in ranking.prunable_weights(model).items()}


class Strategy(ranking.RankingStrategy):
    """Random global pruning (see the module docstring)."""

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Remove ceil(f x R) of the R surviving pool weights, lowest random score first (see pruning/ranking.py).
        Uses `trained_model` only for its tensor names and shapes."""
        mask = ranking.current_or_ones(current_mask, trained_model)
        return ranking.prune_pool_fraction(pruning_hparams, scores(trained_model, pruning_hparams.pruning_seed), mask,
                                           trained_model)
