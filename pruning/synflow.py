"""`synflow`: Iterative Synaptic Flow Pruning (Tanaka, Kunin, Yamins & Ganguli, NeurIPS 2020, "Pruning neural
networks without any data by iteratively conserving synaptic flow", Algorithm 1), as compared in Frankle et al.
2021. Data-free: the network's parameters (and floating buffers) are replaced by their absolute values (float64,
eval mode), R = the sum of its output on an all-ones input of one example's shape, and score = |w * dR/dw|. One
level removes its ceil(f x R0) weights (pruning/ranking.py) in `--synflow_iterations` steps, re-scoring after each:
after step k of n the pool keeps round(R0 x (R1 / R0)^(k / n)) weights (exponentially spaced; R1 = the level's
final count, reached exactly at step n). Scoring the level's starting weights (the rewind point times the current
mask), the lowest scores over all non-ignored prunable tensors are pruned.
"""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import copy
from dataclasses import dataclass
from typing import Dict, Optional

from foundations.hparams import flag_name
from pruning import ranking
from pruning.mask import Mask


@dataclass
class PruningHparams(ranking.FractionHparams):
    """synflow's flags: `--pruning_fraction`, `--pruning_layers_to_ignore` and `--synflow_iterations`."""

    synflow_iterations: int = 100

    _name = 'Hyperparameters for SynFlow Pruning'
    _synflow_iterations = ('The number of score-and-prune steps per level (exponentially spaced in density): an '
                           'integer >= 1.')

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        self.check_at_least(self.synflow_iterations, 1, flag_name('synflow_iterations', prefix))


def linearized_copy(model):
    """A float64, eval-mode copy of `model` whose parameters and floating buffers are their absolute values, with
    gradients on the prunable weights only; returns (copy, {name: its prunable weight})."""
    import torch
    model = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    weights = ranking.prunable_weights(model)
    for weight in weights.values():
        weight.requires_grad_(True)
    return model, weights


def synaptic_flow(model, weights: Dict[str, torch.Tensor], input_shape) -> Dict[str, torch.Tensor]:
    """{name: |w * dR/dw|} for the linearized `model` (see `linearized_copy`) at its current weights, with
    R = sum(model(ones((1, *input_shape))))."""
    import torch
    device = next(iter(weights.values())).device
    output = model(torch.ones((1, *input_shape), dtype=torch.float64, device=device))
    grads = torch.autograd.grad(output.sum(), list(weights.values()))
    # w >= 0 and dR/dw >= 0 in the linearized network, so w * dR/dw is already |w * dR/dw|.
    return {name: w.detach() * g for (name, w), g in zip(weights.items(), grads)}


def scores(starting_model, input_shape) -> Dict[str, torch.Tensor]:
    """One round of SynFlow scores at `starting_model`'s weights (each of its tensor's shape, float64)."""
    model, weights = linearized_copy(starting_model)
    return synaptic_flow(model, weights, input_shape)


def iterative_prune(pruning_hparams: PruningHparams, starting_model, current_mask: Mask, input_shape) -> Mask:
    """One level of iterative SynFlow (see the module docstring); returns the new mask (a subset of
    `current_mask`; ignored tensors keep theirs)."""
    import torch
    names = ranking.pool_names(pruning_hparams, starting_model)
    model, weights = linearized_copy(starting_model)
    absolute = {name: w.detach().clone() for name, w in weights.items()}
    device = absolute[names[0]].device
    masks = {name: current_mask[name].to(device, torch.float64) for name in current_mask}
    # The pool's masks live in one flat buffer; masks[name] of a pool tensor is a view into it.
    pool_mask = torch.cat([masks[name].reshape(-1) for name in names])
    for name, view in zip(names, pool_mask.split([masks[name].numel() for name in names])):
        masks[name] = view.view(masks[name].shape)

    start = int(torch.count_nonzero(pool_mask))
    end = start - ranking.number_to_prune(pruning_hparams.pruning_fraction, start)
    iterations, count = pruning_hparams.synflow_iterations, start
    for k in range(1, iterations + 1):
        keep = end if k == iterations or start == 0 else round(start * (end / start) ** (k / iterations))
        if count <= keep:
            continue
        with torch.no_grad():
            for name, w in weights.items():
                w.copy_(absolute[name] * masks[name])
        flow = synaptic_flow(model, weights, input_shape)
        pool = torch.nan_to_num(torch.cat([flow[name].reshape(-1) for name in names]),
                                nan=torch.finfo(torch.float64).max)
        pool = torch.where(pool_mask > 0, pool, torch.inf)  # Pruned: never chosen again (survivors are finite).
        pool_mask[ranking.lowest(pool, count - keep)] = 0
        count = keep
    return Mask({name: masks[name].float().cpu() for name in current_mask})


class Strategy(ranking.RankingStrategy):
    """Iterative SynFlow (see the module docstring)."""

    uses_starting_weights = True
    uses_data = True  # Only the shape of one example: SynFlow's input is all ones.

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Remove ceil(f x R) of the R surviving pool weights in `--synflow_iterations` steps. `data` gives only
        the input shape (x.shape[1:] of its first batch). Raises ValueError without `starting_model` or `data`."""
        starting_model = ranking.require(starting_model, 'starting_model', 'synflow')
        x, _ = next(iter(ranking.require(data, 'data', 'synflow')))
        mask = ranking.current_or_ones(current_mask, starting_model)
        return iterative_prune(pruning_hparams, starting_model, mask, tuple(x.shape[1:]))
