"""`checkpoint.pth`: model, optimizer and logger at the start of each epoch, so an interrupted run resumes there."""

import os
from typing import Optional, Tuple

import torch

from foundations import paths
from foundations.io import DamagedFile, atomic_torch_save, torch_load
from foundations.step import Step
from platforms import platform as current_platform
from training.metric_logger import MetricLogger


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel/DataParallel wrapper (or the model itself)."""
    return model.module if hasattr(model, 'module') else model


def save_checkpoint_callback(output_location, step, model, optimizer, logger, scaler=None, *, platform=None):
    """The original's checkpoint callback: write `checkpoint.pth` atomically (primary process only), then wait for
    every process. `platform` None: the running job's (`get_platform()`).

    Contents (the original's layout): `ep`, `it` (ints), `model_state_dict` (never `module.`-prefixed),
    `optimizer_state_dict`, `logger` (the MetricLogger as text), plus `scaler_state_dict` under mixed precision
    (the training loop passes `scaler` to callbacks marked `wants_scaler`).
    """
    platform = current_platform.resolve(platform)
    if platform.is_primary_process:
        checkpoint = {
            'ep': step.ep,
            'it': step.it,
            'model_state_dict': unwrap(model).state_dict(),
            'optimizer_state_dict': optimizer.state_dict(),
            'logger': str(logger),
        }
        if scaler is not None and scaler.is_enabled():
            checkpoint['scaler_state_dict'] = scaler.state_dict()
        atomic_torch_save(checkpoint, paths.checkpoint(output_location))
    platform.barrier()


save_checkpoint_callback.wants_scaler = True


def checkpoint_saver(platform=None):
    """`save_checkpoint_callback` bound to `platform` (None: the running job's when it runs)."""
    def save_checkpoint(output_location, step, model, optimizer, logger, scaler=None):
        save_checkpoint_callback(output_location, step, model, optimizer, logger, scaler, platform=platform)
    save_checkpoint.wants_scaler = True
    return save_checkpoint


def restore_checkpoint(output_location: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       iterations_per_epoch: int, scaler=None) -> Tuple[Optional[Step], Optional[MetricLogger]]:
    """Load `checkpoint.pth` into model and optimizer if it exists; returns (step, logger) or (None, None).

    Accepts model state saved with or without a `module.` prefix (DataParallel checkpoints of the original).
    Raises DamagedFile (never starts over silently) if the file cannot be read or is not a checkpoint of this run.
    """
    path = paths.checkpoint(output_location)
    if not os.path.exists(path):
        return None, None
    checkpoint = torch_load(path, map_location='cpu')
    try:
        state = checkpoint['model_state_dict']
        if state and all(k.startswith('module.') for k in state):
            state = {k[len('module.'):]: v for k, v in state.items()}
        unwrap(model).load_state_dict(state)
        optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
        if scaler is not None and 'scaler_state_dict' in checkpoint:
            scaler.load_state_dict(checkpoint['scaler_state_dict'])
        step = Step.from_epoch(int(checkpoint['ep']), int(checkpoint['it']), iterations_per_epoch)
        logger = MetricLogger.create_from_string(checkpoint['logger'])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError):
        raise DamagedFile(path, 'it is not a checkpoint of this run') from None
    return step, logger


def check_checkpoint(output_location: str) -> None:
    """Raise DamagedFile if `checkpoint.pth` exists in `output_location` but is not a readable checkpoint (the
    keys `ep`, `it`, `model_state_dict`, `optimizer_state_dict`, `logger`); a missing file is fine."""
    path = paths.checkpoint(output_location)
    if not os.path.exists(path):
        return
    checkpoint = torch_load(path, map_location='cpu')
    keys = ('ep', 'it', 'model_state_dict', 'optimizer_state_dict', 'logger')
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in keys):
        raise DamagedFile(path, 'it is not a checkpoint of this run')
    try:
        MetricLogger.create_from_string(checkpoint['logger'])
    except (ValueError, TypeError):
        raise DamagedFile(path, 'the logger inside it is damaged') from None
