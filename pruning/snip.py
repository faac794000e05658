"""`snip`: SNIP, single-shot connection sensitivity (Lee et al., ICLR 2019, "SNIP: Single-shot Network Pruning
based on Connection Sensitivity", Eq. 6), as compared in Frankle et al. 2021: score = |w * dL/dw| at the level's
starting weights (the rewind point times the current mask), with L the mean training loss over `--pruning_batches`
batches; the lowest scores over all non-ignored prunable tensors are pruned."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import copy
import itertools
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from foundations.hparams import flag_name
from pruning import ranking
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """snip's flags: `--pruning_fraction`, `--pruning_layers_to_ignore` and `--pruning_batches`."""

    pruning_batches: int = 1

    _name = 'Hyperparameters for SNIP Pruning'
    _pruning_batches = ('The number of batches of training data (of --batch_size examples) on which to compute the '
                        'scores: an integer >= 1.')

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        self.check_at_least(self.pruning_batches, 1, flag_name('pruning_batches', prefix))


def pruning_batches(data: Iterable[Tuple[torch.Tensor, torch.Tensor]], count: int, device) -> List[Tuple]:
    """The first `count` batches of `data` (all of them if it has fewer), on `device`."""
    return [(x.to(device), y.to(device)) for x, y in itertools.islice(data, count)]


def scoring_copy(model, dtype=None):
    """A copy of `model` (optionally cast to `dtype`) in which only the prunable weights require gradients; returns
    (copy, {name: its prunable weight})."""
    model = copy.deepcopy(model)
    if dtype is not None:
        model = model.to(dtype)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    weights = ranking.prunable_weights(model)
    for weight in weights.values():
        weight.requires_grad_(True)
    return model, weights


def batch_loss(model, batch: Tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The model's mean loss on one batch (x (B, C, H, W), y (B,)), in training mode."""
    x, y = batch
    from models import base as models_base
    return model.loss_criterion(model(models_base.to_memory_format(x, model.memory_format)), y)


def loss_gradients(model, weights: Dict[str, torch.Tensor], batches: List[Tuple]) -> Dict[str, torch.Tensor]:
    """dL/dw for every tensor in `weights`, L = the mean over `batches` of each batch's mean loss."""
    import torch
    model.train()
    gradients = {name: torch.zeros_like(w) for name, w in weights.items()}
    for batch in batches:
        grads = torch.autograd.grad(batch_loss(model, batch) / len(batches), list(weights.values()))
        for name, g in zip(weights, grads):
            gradients[name] += g
    return gradients


def scores(starting_model, batches: List[Tuple]) -> Dict[str, torch.Tensor]:
    """{prunable tensor name: |w * dL/dw|} at `starting_model`'s weights (each of its tensor's shape)."""
    if not batches:
        raise ValueError('SNIP needs at least one batch of training data.')
    model, weights = scoring_copy(starting_model)
    gradients = loss_gradients(model, weights, batches)
    return {name: (w.detach() * gradients[name]).abs() for name, w in weights.items()}


def prune_on_batches(pruning_hparams, current_mask: Optional[Mask], starting_model, data, score, strategy: str,
                     highest: bool = False) -> Mask:
    """SNIP's and GraSP's pruning step: `score(starting_model, batches)` on the first `--pruning_batches` batches of
    `data`, then remove ceil(f x R) of the R surviving pool weights, lowest scores first (highest with `highest`).
    Raises ValueError naming `strategy` without `starting_model` or `data`."""
    starting_model = ranking.require(starting_model, 'starting_model', strategy)
    data = ranking.require(data, 'data', strategy)
    device = next(starting_model.parameters()).device
    batches = pruning_batches(data, pruning_hparams.pruning_batches, device)
    mask = ranking.current_or_ones(current_mask, starting_model)
    return ranking.prune_pool_fraction(pruning_hparams, score(starting_model, batches), mask, starting_model,
                                       highest=highest)


class Strategy(ranking.RankingStrategy):
    """SNIP (see the module docstring)."""

    uses_starting_weights = True
    uses_data = True

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Remove ceil(f x R) of the R surviving pool weights, lowest SNIP score first (see pruning/ranking.py).
        Raises ValueError without `starting_model` or `data`."""
        return prune_on_batches(pruning_hparams, current_mask, starting_model, data, scores, 'snip')
