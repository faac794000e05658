"""What the strategies beyond sparse_global share: their common flags, the exact count of weights a level removes,
and the removal of the lowest-scoring surviving weights.

Counting rule (sparse_layerwise per tensor; random, magnitude_init, snip, grasp and synflow over their pool): the
pool is the surviving weights (ones of the current mask) of the prunable tensors NOT named in
`--pruning_layers_to_ignore`; with R weights in it, a level removes exactly n = ceil(f x R) of them, f being
`--pruning_fraction` taken as the exact decimal it is written as (so 0.7 x 10 is 7, not 7.000000000000001 -> 8).
The pool therefore keeps floor((1 - f) x R): after level L it holds (1 - f)^L of its original size N, rounded down
at each level (never more than 1/f weights below (1 - f)^L x N). Ignored tensors keep their mask and are not
counted (unlike sparse_global, which counts them in R, as the original). Among equal scores, the weight that comes
first (tensors in the model's `prunable_layer_names` order, then row-major position) is removed first, so a mask
depends on nothing but the scores.
"""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, List, Optional

from foundations import hparams
from foundations.hparams import HparamsError
from pruning import base
from pruning.mask import Mask


@dataclass
class FractionHparams(hparams.PruningHparams):
    """The flags every strategy beyond sparse_global has: the fraction of the pool to remove per level and the
    tensors never pruned (a comma-separated list of exact prunable tensor names, e.g. `fc.weight`)."""

    pruning_fraction: float = 0.2
    pruning_layers_to_ignore: Optional[str] = None

    _display_name = 'Pruning Hyperparameters'
    _description = 'Hyperparameters that modify the way pruning occurs.'
    _pruning_fraction = ('The fraction of the remaining prunable weights to prune at each level: float in [0, 1). '
                         'Level L keeps (1 - fraction)^L of them.')
    _pruning_layers_to_ignore = ('A comma-separated list of prunable tensors never to prune, by exact name '
                                 '(e.g. fc.weight).')

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        check_fraction(self.pruning_fraction)


def check_fraction(fraction: float) -> None:
    """Raise HparamsError naming `--pruning_fraction` unless it is a finite number in [0, 1)."""
    if not (isinstance(fraction, (int, float)) and math.isfinite(fraction) and 0 <= fraction < 1):
        raise HparamsError(f'argument --pruning_fraction: must be a fraction in [0, 1), got {fraction}')


def layers_to_ignore(pruning_hparams) -> List[str]:
    """The names in `--pruning_layers_to_ignore`, as a list (exact names, no pattern matching)."""
    text = pruning_hparams.pruning_layers_to_ignore
    return text.split(',') if text else []


def validate_layers(pruning_hparams, model) -> None:
    """Raise HparamsError naming the flag and the valid values when `--pruning_fraction` is outside [0, 1) or the
    names are wrong (see `validate_names`)."""
    check_fraction(pruning_hparams.pruning_fraction)
    validate_names(pruning_hparams, model)


def validate_names(pruning_hparams, model) -> None:
    """Raise HparamsError naming `--pruning_layers_to_ignore` and listing the valid names when a name in it is not
    exactly a prunable tensor of `model`, or when every prunable tensor is ignored."""
    prunable = model.prunable_layer_names
    for name in layers_to_ignore(pruning_hparams):
        if name not in prunable:
            raise HparamsError(f'argument --pruning_layers_to_ignore: {name!r} is not a prunable tensor of this '
                               f'model; choose from: {", ".join(prunable)}')
    if not set(prunable) - set(layers_to_ignore(pruning_hparams)):
        raise HparamsError('argument --pruning_layers_to_ignore: every prunable tensor is ignored, so nothing can be '
                           'pruned')


def check_levels(pruning_hparams, model, levels: int, per_tensor: bool = False) -> None:
    """Raise HparamsError naming `--levels` and `--pruning_fraction` if a level among 1..`levels` would find no
    weight left in the pool (every non-ignored weight already pruned), so it could not prune anything.

    The counts follow the module's rule from the all-ones mask (over the pool, or each tensor separately with
    `per_tensor`, as sparse_layerwise counts); only shapes are read (`model` may live on the meta device). Removing
    ceil(f x R) of R weights never asks for more than there are, so this is the only level that cannot be pruned.
    """
    sizes = [math.prod(model.state_dict()[name].shape) for name in pool_names(pruning_hparams, model)]
    remaining = sizes if per_tensor else [sum(sizes)]
    for level in range(1, levels + 1):
        if sum(remaining) == 0:
            raise HparamsError(
                f'arguments --levels/--pruning_fraction: no prunable weight is left after level {level - 1} (each '
                f'level removes ceil({pruning_hparams.pruning_fraction} x remaining) of the weights not in '
                f'--pruning_layers_to_ignore), so level {level} cannot prune; use --levels={level - 1} or a smaller '
                f'--pruning_fraction')
        remaining = [r - number_to_prune(pruning_hparams.pruning_fraction, r) for r in remaining]


def pool_names(pruning_hparams, model) -> List[str]:
    """The prunable tensors of `model` that are not ignored, in `prunable_layer_names` order."""
    ignored = set(layers_to_ignore(pruning_hparams))
    return [name for name in model.prunable_layer_names if name not in ignored]


def number_to_prune(fraction: float, remaining: int) -> int:
    """ceil(fraction x remaining), with `fraction` taken as the exact decimal of its shortest repr."""
    return math.ceil(Fraction(repr(float(fraction))) * remaining)


def current_or_ones(current_mask: Optional[Mask], model) -> Mask:
    return Mask.ones_like(model) if current_mask is None else current_mask


def lowest(values: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of the `n` smallest entries of the 1-D tensor `values` (ties: lower index first; NaN counts as
    +inf), in O(len) without a full sort. Returns a LongTensor of length min(n, len(values)) on `values`' device.

    For few of many (SynFlow's steps), a bound from every 64th entry first narrows the search to the entries at or
    below it; the answer is the same, as every entry up to the n-th smallest value lies at or below that bound.
    """
    import torch
    size = values.numel()
    n = min(n, size)
    if n <= 0:
        return torch.zeros(0, dtype=torch.long, device=values.device)
    values = torch.nan_to_num(values, nan=math.inf)
    if size >= 4096 and n <= size // 64:
        sample = values[::64]
        bound = torch.kthvalue(sample.cpu(), min(sample.numel(), 2 * (n * sample.numel()) // size + 16)).values
        candidates = torch.nonzero(values <= bound.to(values.device)).flatten()
        if candidates.numel() >= n:
            return candidates[_lowest_exact(values[candidates], n)]
    return _lowest_exact(values, n)


def _lowest_exact(values: torch.Tensor, n: int) -> torch.Tensor:
    """`lowest` for 0 < n <= len(values) and no NaN: a partial `topk` (or `kthvalue` near the median) finds the
    n-th smallest value; ties at it are resolved by index."""
    import torch
    size = values.numel()
    if n <= size // 8:
        chosen = torch.topk(values, n, largest=False, sorted=False)
        threshold = chosen.values.max()
        if int((values == threshold).sum()) == int((chosen.values == threshold).sum()):
            return chosen.indices  # No tie straddles the cut: the set is unique.
    elif size - n + 1 <= size // 8:
        threshold = torch.topk(values, size - n + 1, largest=True, sorted=False).values.min()
    else:
        threshold = torch.kthvalue(values.cpu(), n).values.to(values.device)
    below = torch.nonzero(values < threshold).flatten()
    ties = torch.nonzero(values == threshold).flatten()[:n - below.numel()]
    return torch.cat([below, ties])


def prune_lowest(scores: Dict[str, torch.Tensor], current_mask: Mask, names: List[str], n: int,
                 highest: bool = False) -> Mask:
    """Remove exactly `n` surviving weights of the tensors `names`: those with the lowest `scores` (the highest
    with `highest=True`), ties broken by position (see the module docstring).

    scores: {name: tensor of the mask's shape}, any device and float dtype (ranked in float64 on the CPU).
    Returns a new Mask with `current_mask`'s keys and order; tensors not in `names` keep their mask. Raises
    ValueError if fewer than `n` weights survive in `names`.
    """
    import torch
    positions, pool = [], []
    for name in names:
        surviving = torch.nonzero(current_mask[name].reshape(-1) != 0).flatten()
        positions.append(surviving)
        pool.append(scores[name].detach().reshape(-1).to('cpu', torch.float64)[surviving])
    pool = torch.cat(pool) if pool else torch.zeros(0, dtype=torch.float64)
    if n > pool.numel():
        raise ValueError(f'Cannot prune {n} weights: only {pool.numel()} prunable weights survive.')
    chosen = torch.zeros(pool.numel(), dtype=torch.bool)
    chosen[lowest(-pool if highest else pool, n)] = True

    new_mask = Mask({name: value.clone().float() for name, value in current_mask.items()})
    offset = 0
    for name, surviving in zip(names, positions):
        flat = new_mask[name].reshape(-1)
        flat[surviving[chosen[offset:offset + surviving.numel()]]] = 0
        offset += surviving.numel()
    return new_mask


def prune_pool_fraction(pruning_hparams, scores: Dict[str, torch.Tensor], current_mask: Mask, model,
                        highest: bool = False) -> Mask:
    """One level of global score-based pruning: remove ceil(f x R) of the R surviving pool weights, the lowest
    (or highest) scores first."""
    import torch
    names = pool_names(pruning_hparams, model)
    remaining = sum(int(torch.count_nonzero(current_mask[name])) for name in names)
    return prune_lowest(scores, current_mask, names, number_to_prune(pruning_hparams.pruning_fraction, remaining),
                        highest=highest)


def require(value, what: str, strategy: str):
    """`value`, or ValueError when the runner did not pass an input the strategy declares it uses."""
    if value is None:
        raise ValueError(f'The {strategy} pruning strategy needs `{what}` (see pruning/base.py).')
    return value


def prunable_weights(model) -> Dict[str, torch.Tensor]:
    """{name: parameter} of `model`'s prunable tensors (the live parameters, not copies)."""
    parameters = dict(model.named_parameters())
    return {name: parameters[name] for name in model.prunable_layer_names}


class RankingStrategy(base.Strategy):
    """What every strategy of this module's counting rule shares: the checks of `--pruning_fraction`,
    `--pruning_layers_to_ignore` and `--levels` (subclasses add `get_pruning_hparams` and `prune`)."""

    @staticmethod
    def validate(pruning_hparams, model) -> None:
        validate_layers(pruning_hparams, model)

    @staticmethod
    def validate_names(pruning_hparams, model) -> None:
        validate_names(pruning_hparams, model)

    @staticmethod
    def check_levels(pruning_hparams, model, levels: int) -> None:
        check_levels(pruning_hparams, model, levels)
