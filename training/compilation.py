"""`--compile`: the training step's forward (and, through AOTAutograd, backward) compiled with `torch.compile`.

A job flag (a platform flag, like `--num_workers`), never part of a hash: compiled and eager training give equal
results to float rounding (tests/training/test_compilation.py). Compiling costs about a minute of start-up (more on
a busy CPU) and pays off on GPUs, where it fuses the many small kernels of a small network. Where compilation
cannot work (no C++ compiler for the CPU backend, no Triton for the GPU one), training continues in eager mode after
a one-line warning. `$OPEN_LTH_COMPILE_BACKEND` chooses another torch.compile backend (the tests use `aot_eager`,
which traces the same graphs without generating code).
"""

import os
import sys

import torch

BACKEND_VARIABLE = 'OPEN_LTH_COMPILE_BACKEND'


class CompiledForward:
    """Calls `torch.compile(module)`; if the first call fails to compile, warns once on stderr and calls `module`
    itself from then on. `module` is what the training step calls (the model, its DistributedDataParallel, or the
    vmapped forward of concurrent replicates)."""

    def __init__(self, module: torch.nn.Module):
        self.module = module
        self.compiled = None
        self.tried = False

    def __call__(self, *args, **kwargs):
        if self.tried:
            return (self.module if self.compiled is None else self.compiled)(*args, **kwargs)
        self.tried = True
        try:
            self.compiled = torch.compile(self.module, backend=os.environ.get(BACKEND_VARIABLE) or 'inductor')
            return self.compiled(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - any backend failure means: train in eager mode.
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            print(f'open_lth.py: warning: --compile: torch.compile failed ({type(error).__name__}: {first_line}); '
                  'training in eager mode', file=sys.stderr)
            self.compiled = None
            return self.module(*args, **kwargs)


def training_forward(module: torch.nn.Module, platform):
    """What the training step calls for its forward pass: `module` itself, or with `--compile` (the platform's
    `compile` flag) a CompiledForward of it."""
    return CompiledForward(module) if getattr(platform, 'compile', False) else module
