"""`Mask`: which weights of each prunable tensor survive (1) or are pruned (0)."""

import json
import os
from typing import Dict

import numpy as np
import torch

from foundations import paths
from foundations.io import atomic_torch_save, atomic_write_text, torch_load


class Mask(dict):
    """A dict from prunable tensor name (e.g. `fc_layers.0.weight`) to a 0/1 tensor of that tensor's shape.

    Values may be given as torch tensors or numpy arrays; anything else, a non-string or empty key, or an entry
    that is not 0 or 1 raises ValueError. Saved as `mask.pth` ({name: int32 CPU tensor}, the original's format)
    with `sparsity_report.json` beside it.
    """

    def __init__(self, other_dict: Dict = None):
        super().__init__()
        for k, v in (other_dict or {}).items():
            self[k] = v

    def __setitem__(self, key, value):
        if not isinstance(key, str) or len(key) == 0:
            raise ValueError(f'Invalid tensor name: {key}')
        if isinstance(value, np.ndarray):
            value = torch.as_tensor(value)
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'value for key {key} must be torch Tensor or numpy ndarray.')
        if ((value != 0) & (value != 1)).any():
            raise ValueError('All entries must be 0 or 1.')
        super().__setitem__(key, value)

    @staticmethod
    def ones_like(model) -> 'Mask':
        """An all-ones float32 mask over `model.prunable_layer_names`."""
        state = model.state_dict()
        return Mask({name: torch.ones_like(state[name], dtype=torch.float32, device='cpu')
                     for name in model.prunable_layer_names})

    def save(self, output_location: str) -> None:
        """Write `sparsity_report.json` then `mask.pth`, each atomically (mask.pth marks a finished save)."""
        atomic_write_text(paths.sparsity_report(output_location), json.dumps(self.sparsity_report(), indent=4))
        atomic_torch_save({k: v.cpu().int() for k, v in self.items()}, paths.mask(output_location))

    def sparsity_report(self) -> Dict[str, float]:
        """{'total': number of prunable weights, 'unpruned': number of ones}, both floats, computed from the mask."""
        total = sum(int(v.numel()) for v in self.values())
        unpruned = sum(int(torch.count_nonzero(v)) for v in self.values())
        return {'total': float(total), 'unpruned': float(unpruned)}

    @staticmethod
    def load(output_location: str) -> 'Mask':
        """Raises ValueError when there is no mask.pth in `output_location`."""
        if not Mask.exists(output_location):
            raise ValueError(f'Mask not found at {output_location}')
        return Mask(torch_load(paths.mask(output_location)))

    @staticmethod
    def exists(output_location: str) -> bool:
        return os.path.exists(paths.mask(output_location))

    def numpy(self) -> Dict[str, np.ndarray]:
        return {k: v.cpu().numpy() for k, v in self.items()}

    @property
    def sparsity(self) -> torch.Tensor:
        """Fraction of pruned weights, as a 0-d float tensor."""
        unpruned = sum(torch.sum(v) for v in self.values())
        total = sum(v.numel() for v in self.values())
        return 1 - unpruned.float() / total

    @property
    def density(self) -> torch.Tensor:
        """Fraction of surviving weights, as a 0-d float tensor."""
        return 1 - self.sparsity
