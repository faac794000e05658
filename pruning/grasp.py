"""`grasp`: GraSP, gradient signal preservation (Wang, Zhang & Grosse, ICLR 2020, "Picking Winning Tickets Before
Training by Preserving Gradient Flow", Eq. 8 and Algorithm 1), as compared in Frankle et al. 2021:
score = -(w * Hg) at the level's starting weights (the rewind point times the current mask), where g = dL/dw and
H = d2L/dw2 for L the mean training loss over `--pruning_batches` batches (H g is a Hessian-gradient product by
double backpropagation; no temperature). The HIGHEST scores over all non-ignored prunable tensors are pruned
(removing them reduces the gradient norm least, or increases it)."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from foundations.hparams import flag_name
from pruning import ranking, snip
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """grasp's flags: `--pruning_fraction`, `--pruning_layers_to_ignore` and `--pruning_batches`."""

    pruning_batches: int = 1

    _name = 'Hyperparameters for GraSP Pruning'
    _pruning_batches = snip.PruningHparams._pruning_batches

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        self.check_at_least(self.pruning_batches, 1, flag_name('pruning_batches', prefix))


def scores(starting_model, batches: List[Tuple]) -> Dict[str, torch.Tensor]:
    """{prunable tensor name: -(w * Hg)} at `starting_model`'s weights (each of its tensor's shape); H and g are
    over the prunable weights only (other parameters held fixed)."""
    import torch
    if not batches:
        raise ValueError('GraSP needs at least one batch of training data.')
    model, weights = snip.scoring_copy(starting_model)
    gradient = snip.loss_gradients(model, weights, batches)  # g, a constant below.
    hessian_gradient = {name: torch.zeros_like(w) for name, w in weights.items()}
    for batch in batches:
        grads = torch.autograd.grad(snip.batch_loss(model, batch) / len(batches), list(weights.values()),
                                    create_graph=True)
        inner = sum((g * gradient[name]).sum() for name, g in zip(weights, grads))  # g_b . g
        for name, hg in zip(weights, torch.autograd.grad(inner, list(weights.values()))):
            hessian_gradient[name] += hg
    return {name: -(w.detach() * hessian_gradient[name]) for name, w in weights.items()}


class Strategy(ranking.RankingStrategy):
    """GraSP (see the module docstring)."""

    uses_starting_weights = True
    uses_data = True

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Remove ceil(f x R) of the R surviving pool weights, highest GraSP score first (see pruning/ranking.py).
        Raises ValueError without `starting_model` or `data`."""
        return snip.prune_on_batches(pruning_hparams, current_mask, starting_model, data, scores, 'grasp',
                                     highest=True)
