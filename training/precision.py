"""Mixed precision for `--apex_fp16`: torch.autocast in float16 with a GradScaler (no NVIDIA Apex needed).

Autocast keeps BatchNorm and the loss in float32; the scaler's state is saved in checkpoints so a resumed run
continues with the same loss scale.
"""

import contextlib

import torch

from foundations.hparams import HparamsError, TrainingHparams, flag_name


def validate(training_hparams: TrainingHparams, device: torch.device, prefix=None) -> None:
    """Raise HparamsError when mixed precision is requested on a device without float16 autocast (the CPU)."""
    if training_hparams.apex_fp16 and torch.device(device).type != 'cuda':
        raise HparamsError(f'argument {flag_name("apex_fp16", prefix)}: float16 mixed precision needs a CUDA '
                           f'device; this platform trains on {device}')


class Precision:
    """Autocast context and backward/step for one training run (a no-op wrapper in full precision)."""

    def __init__(self, training_hparams: TrainingHparams, device: torch.device):
        self.device_type = torch.device(device).type
        self.enabled = bool(training_hparams.apex_fp16)
        self.dtype = torch.float16
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self):
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """loss.backward() and optimizer.step(), through the GradScaler when it is enabled."""
        if self.scaler.is_enabled():
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            optimizer.step()
