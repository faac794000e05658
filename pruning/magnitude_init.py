"""`magnitude_init`: magnitude pruning at initialisation (the baseline of Frankle et al. 2021, "Pruning Neural
Networks at Initialization: Why Are We Missing the Mark?", Sec. 3): score = |w| of the level's starting weights
(the rewind point times the current mask); the lowest scores over all non-ignored prunable tensors are pruned."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

from dataclasses import dataclass
from typing import Dict, Optional

from pruning import ranking
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """magnitude_init's flags: `--pruning_fraction` and `--pruning_layers_to_ignore`."""

    _name = 'Hyperparameters for Magnitude Pruning at Initialization'


def scores(starting_model) -> Dict[str, torch.Tensor]:
    """{prunable tensor name: |w|} of `starting_model` (each of its tensor's shape)."""
    return {name: w.detach().abs() for name, w in ranking.prunable_weights(starting_model).items()}


class Strategy(ranking.RankingStrategy):
    """Global magnitude pruning of the starting weights (see the module docstring)."""

    uses_starting_weights = True

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Remove ceil(f x R) of the R surviving pool weights, smallest |starting weight| first (see
        pruning/ranking.py). Raises ValueError without `starting_model`."""
        starting_model = ranking.require(starting_model, 'starting_model', 'magnitude_init')
        mask = ranking.current_or_ones(current_mask, starting_model)
        return ranking.prune_pool_fraction(pruning_hparams, scores(starting_model), mask, starting_model)
