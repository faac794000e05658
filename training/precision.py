"""Mixed precision for `--apex_fp16`: torch.autocast plus, in float16, a GradScaler (no NVIDIA Apex needed).

`--amp_dtype=bfloat16` trains in bfloat16 instead (no loss scaling needed; also on the CPU). Autocast keeps
BatchNorm and the loss in float32; the scaler's state is saved in checkpoints so a resumed run continues with the
same loss scale.
"""

from __future__ import annotations  # annotations name torch types; torch is imported when a run trains

import contextlib

from foundations.hparams import HparamsError, TrainingHparams, flag_name

DTYPES = ('float16', 'bfloat16')  # names of torch dtypes (`--amp_dtype`)


def validate_names(training_hparams: TrainingHparams, prefix=None) -> None:
    """Raise HparamsError for an unknown `--amp_dtype` (needs no device)."""
    dtype_name = training_hparams.amp_dtype or 'float16'
    if dtype_name not in DTYPES:
        raise HparamsError(f'argument {flag_name("amp_dtype", prefix)}: unknown dtype {dtype_name!r}; '
                           f'choose from: {", ".join(DTYPES)}')


def validate(training_hparams: TrainingHparams, device: torch.device, prefix=None) -> None:
    """Raise HparamsError for an unknown `--amp_dtype`, or float16 mixed precision on a device without it (CPU)."""
    validate_names(training_hparams, prefix)
    import torch
    dtype_name = training_hparams.amp_dtype or 'float16'
    if training_hparams.apex_fp16 and dtype_name == 'float16' and torch.device(device).type != 'cuda':
        raise HparamsError(f'argument {flag_name("apex_fp16", prefix)}: float16 mixed precision needs a CUDA '
                           f'device; this platform trains on {device} (add --amp_dtype=bfloat16 to use bfloat16)')


class Precision:
    """Autocast context and backward/step for one training run (a no-op wrapper in full precision)."""

    def __init__(self, training_hparams: TrainingHparams, device: torch.device):
        import torch
        self.device_type = torch.device(device).type
        self.enabled = bool(training_hparams.apex_fp16)
        self.dtype = getattr(torch, training_hparams.amp_dtype or 'float16')
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.enabled and self.dtype == torch.float16)

    def autocast(self):
        if not self.enabled:
            return contextlib.nullcontext()
        import torch
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
