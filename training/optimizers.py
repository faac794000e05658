"""Optimizers and the learning-rate schedule of a training run, built from TrainingHparams."""

from __future__ import annotations  # annotations name torch types; torch is imported when a run trains

import bisect
import math
from typing import Optional

from foundations.hparams import HparamsError, TrainingHparams, flag_name
from foundations.step import Step

OPTIMIZERS = ('sgd', 'adam')


def validate_names(training_hparams: TrainingHparams, prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming `--optimizer_name`) for an unknown optimizer."""
    if training_hparams.optimizer_name not in OPTIMIZERS:
        raise HparamsError(f'argument {flag_name("optimizer_name", prefix)}: no such optimizer '
                           f'{training_hparams.optimizer_name!r}; choose from: {", ".join(OPTIMIZERS)}')


def validate(training_hparams: TrainingHparams, prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag) for settings that cannot train, before anything is written."""
    validate_names(training_hparams, prefix)
    if bool(training_hparams.milestone_steps) != bool(training_hparams.gamma):
        raise HparamsError(f'arguments {flag_name("milestone_steps", prefix)} and {flag_name("gamma", prefix)}: '
                           'milestones and gamma hyperparameters must both be set or not at all')
    for name in ('momentum', 'nesterov_momentum', 'weight_decay'):
        value = getattr(training_hparams, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise HparamsError(f'argument {flag_name(name, prefix)}: must be a finite number >= 0, got {value}')


def implementation(parameters) -> dict:
    """The optimizer implementation for these parameters: `fused=True` (one kernel for every tensor, and no host
    synchronisation under a GradScaler) when they are all on a CUDA device, else PyTorch's default (per tensor on
    the CPU, which keeps CPU results bit-identical to earlier versions). Fused results equal the default's to float
    rounding (tests/training/test_optimizers.py)."""
    parameters = list(parameters)
    if parameters and all(p.device.type == 'cuda' for p in parameters):
        return {'fused': True}
    return {}


def get_optimizer(training_hparams: TrainingHparams, model: torch.nn.Module) -> torch.optim.Optimizer:
    """`sgd`: SGD with `momentum` (or, if momentum is 0, `nesterov_momentum` with Nesterov on) and L2
    `weight_decay`; `adam`: Adam with `weight_decay`. Frozen parameters get no gradient, hence no update or decay.
    On a GPU, the fused implementation (see `implementation`).

    Raises ValueError for any other optimizer name.
    """
    import torch
    weight_decay = training_hparams.weight_decay or 0
    fast = implementation(model.parameters())
    if training_hparams.optimizer_name == 'sgd':
        return torch.optim.SGD(
            model.parameters(),
            lr=training_hparams.lr,
            momentum=training_hparams.momentum or training_hparams.nesterov_momentum or 0,
            weight_decay=weight_decay,
            nesterov=training_hparams.nesterov_momentum is not None and training_hparams.nesterov_momentum > 0,
            **fast)
    if training_hparams.optimizer_name == 'adam':
        return torch.optim.Adam(model.parameters(), lr=training_hparams.lr, weight_decay=weight_decay, **fast)
    raise ValueError(f'No such optimizer: {training_hparams.optimizer_name}')


def lr_multiplier(training_hparams: TrainingHparams, iterations_per_epoch: int):
    """The function it -> lr / base lr at iteration `it` (the original's schedule).

    It is the product of gamma ** (number of milestones <= it) and, during warmup, it / warmup_iterations (so the
    lr at iteration 0 is 0). A warmup of zero iterations is no warmup. Raises ValueError when exactly one of
    milestones and gamma is set.
    """
    milestones = []
    if training_hparams.milestone_steps:
        milestones = [Step.from_str(s, iterations_per_epoch).iteration
                      for s in training_hparams.milestone_steps.split(',')]
    if bool(milestones) != bool(training_hparams.gamma):
        raise ValueError('milestones and gamma hyperparameters must both be set or not at all.')

    warmup_iterations = 0
    if training_hparams.warmup_steps:
        warmup_iterations = Step.from_str(training_hparams.warmup_steps, iterations_per_epoch).iteration

    def multiplier(it: int) -> float:
        factors = [1]
        if milestones:
            factors.append(training_hparams.gamma ** bisect.bisect_right(milestones, it))
        if warmup_iterations:
            factors.append(min(1.0, it / warmup_iterations))
        return math.prod(factors)

    return multiplier


def get_lr_schedule(training_hparams: TrainingHparams, optimizer: torch.optim.Optimizer,
                    iterations_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepped once per iteration; the lr during iteration `it` is lr x lr_multiplier(it)."""
    import torch
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(training_hparams, iterations_per_epoch))
