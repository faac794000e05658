"""`sparse_global`: global magnitude pruning (Frankle & Carbin 2019; Frankle et al. 2020, "Linear Mode
Connectivity and the Lottery Ticket Hypothesis"): remove the smallest-magnitude surviving weights across all
prunable layers together."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import math
from dataclasses import dataclass
from typing import Optional

from foundations import hparams
from foundations.hparams import HparamsError
from pruning import base
from pruning.mask import Mask


@dataclass
class PruningHparams(hparams.PruningHparams):
    """sparse_global's flags: the fraction of the remaining weights to prune per level and the tensors never
    pruned (a comma-separated list of prunable tensor names)."""

    pruning_fraction: float = 0.2
    pruning_layers_to_ignore: Optional[str] = None

    # The argparse group is titled after the strategy; displays and hparams.log keep the generic header.
    _group_name = 'Hyperparameters for Sparse Global Pruning'
    _display_name = 'Pruning Hyperparameters'
    _description = 'Hyperparameters that modify the way pruning occurs.'
    _pruning_fraction = 'The fraction of additional weights to prune from the network.'
    # The original misnamed this help attribute, so --pruning_layers_to_ignore has no help text; we keep that.


def layers_to_ignore(pruning_hparams: PruningHparams):
    """The names in `--pruning_layers_to_ignore`, as a list."""
    text = pruning_hparams.pruning_layers_to_ignore
    return [name for name in text.split(',')] if text else []


def feasible_levels(pruning_hparams: PruningHparams, model, levels: int):
    """How deep `levels` successive levels of `prune` get from the all-ones mask, by its counting rule alone.

    Level L removes ceil(fraction x R) + 1 weights, R counting the surviving weights of every prunable tensor
    (ignored ones included), out of the surviving non-ignored ones (the original's rule, tests/golden/pruning.json).
    Returns (deepest, needed, left): the deepest level that can be pruned (== `levels` when all can), and, when
    it stops short, the weights level deepest + 1 needs and the prunable weights left. Ties at the threshold prune
    more than this count, so a run can still stop earlier (`prune` then raises base.PruningExhausted).
    """
    sizes = {name: math.prod(model.state_dict()[name].shape) for name in model.prunable_layer_names}
    ignored = sum(sizes[name] for name in set(layers_to_ignore(pruning_hparams)) if name in sizes)
    left = sum(sizes.values()) - ignored
    for level in range(1, levels + 1):
        needed = math.ceil(pruning_hparams.pruning_fraction * (left + ignored)) + 1
        if needed > left:
            return level - 1, needed, left
        left -= needed
    return levels, 0, left


class Strategy(base.Strategy):
    """Global magnitude pruning (see the module docstring)."""

    @staticmethod
    def get_pruning_hparams() -> type:
        return PruningHparams

    @staticmethod
    def validate(pruning_hparams: PruningHparams, model) -> None:
        fraction = pruning_hparams.pruning_fraction
        if not (math.isfinite(fraction) and 0 <= fraction < 1):
            raise HparamsError(f'argument --pruning_fraction: must be a fraction in [0, 1), got {fraction}')
        Strategy.validate_names(pruning_hparams, model)

    @staticmethod
    def validate_names(pruning_hparams: PruningHparams, model) -> None:
        prunable = model.prunable_layer_names
        for name in layers_to_ignore(pruning_hparams):
            if name not in prunable:
                raise HparamsError(f'argument --pruning_layers_to_ignore: {name!r} is not a prunable tensor of '
                                   f'this model; choose from: {", ".join(prunable)}')
        if not set(prunable) - set(layers_to_ignore(pruning_hparams)):
            raise HparamsError('argument --pruning_layers_to_ignore: every prunable tensor is ignored, so nothing '
                               'can be pruned')

    @staticmethod
    def check_levels(pruning_hparams: PruningHparams, model, levels: int) -> None:
        """Raise HparamsError naming `--levels` and `--pruning_fraction` if `prune` would run out of weights within
        `levels` successive levels from the all-ones mask (counts from `feasible_levels`; only shapes are read)."""
        deepest, needed, left = feasible_levels(pruning_hparams, model, levels)
        if deepest < levels:
            raise HparamsError(
                f'arguments --levels/--pruning_fraction: level {deepest + 1} would prune {needed} weights but only '
                f'{left} prunable weights are left after level {deepest} (each level prunes '
                f'ceil({pruning_hparams.pruning_fraction} x remaining) + 1); the deepest feasible level is '
                f'{deepest}: use --levels={deepest} or a smaller --pruning_fraction')

    @staticmethod
    def prune(pruning_hparams: PruningHparams, trained_model, current_mask: Optional[Mask] = None,
              starting_model=None, data=None) -> Mask:
        """Prune the smallest surviving weights of the non-ignored prunable tensors, globally.

        With R = surviving weights over ALL prunable tensors (ignored ones included) and n = ceil(fraction x R),
        the threshold is the n-th smallest (0-based) surviving |w| among non-ignored tensors, and every surviving
        weight with |w| <= threshold is pruned: n + 1 weights when there are no ties (the original's exact
        counts). Ignored tensors keep their mask. Raises base.PruningExhausted (an HparamsError and a
        ValueError) if fewer than n + 1 weights can be pruned.
        """
        import torch
        current_mask = Mask.ones_like(trained_model) if current_mask is None else current_mask
        remaining = sum(int(torch.count_nonzero(v)) for v in current_mask.values())
        number_to_prune = math.ceil(pruning_hparams.pruning_fraction * remaining)

        ignored = set(layers_to_ignore(pruning_hparams))
        prunable = [name for name in trained_model.prunable_layer_names if name not in ignored]
        state = trained_model.state_dict()
        weights = {name: state[name].detach().abs().float().cpu() for name in prunable}

        pool = torch.cat([weights[name][current_mask[name] == 1] for name in prunable])
        if number_to_prune >= pool.numel():
            raise base.PruningExhausted(f'arguments --levels/--pruning_fraction: Cannot prune {number_to_prune + 1} '
                                        f'weights: only {pool.numel()} prunable weights survive. Lower '
                                        '--pruning_fraction or --levels.')
        threshold = torch.kthvalue(pool, number_to_prune + 1).values

        new_mask = Mask({name: torch.where(weights[name] > threshold, current_mask[name].float(),
                                           torch.zeros_like(weights[name])) for name in prunable})
        for name in current_mask:  # Ignored tensors keep their mask (and come last, as in the original).
            if name not in new_mask:
                new_mask[name] = current_mask[name]
        return new_mask
