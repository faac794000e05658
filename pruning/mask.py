"""`Mask`: which weights of each prunable tensor survive (1) or are pruned (0)."""

from __future__ import annotations  # torch is imported by the functions that use it (fast start-up)

import json
import os
from typing import Dict

from foundations import paths
from foundations.io import DamagedFile, atomic_torch_save, atomic_write_text, torch_load


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
        import torch
        import numpy as np
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
        import torch
        state = model.state_dict()
        return Mask({name: torch.ones_like(state[name], dtype=torch.float32, device='cpu')
                     for name in model.prunable_layer_names})

    def save(self, output_location: str) -> None:
        """Write `sparsity_report.json` then `mask.pth`, each atomically (mask.pth marks a finished save)."""
        atomic_write_text(paths.sparsity_report(output_location), json.dumps(self.sparsity_report(), indent=4))
        atomic_torch_save({k: v.cpu().int() for k, v in self.items()}, paths.mask(output_location))

    def sparsity_report(self) -> Dict[str, float]:
        """{'total': number of prunable weights, 'unpruned': number of ones}, both floats, computed from the mask."""
        import torch
        total = sum(int(v.numel()) for v in self.values())
        unpruned = sum(int(torch.count_nonzero(v)) for v in self.values())
        return {'total': float(total), 'unpruned': float(unpruned)}

    @staticmethod
    def load(output_location: str) -> 'Mask':
        """Raises ValueError when there is no mask.pth in `output_location`, DamagedFile when it is not a mask
        (unreadable, unsafe, or not a dict of 0/1 tensors)."""
        if not Mask.exists(output_location):
            raise ValueError(f'Mask not found at {output_location}')
        path = paths.mask(output_location)
        state = torch_load(path)
        try:
            if not isinstance(state, dict) or not state:
                raise ValueError('not a dict of tensors')
            return Mask(state)
        except ValueError as e:
            raise DamagedFile(path, f'it is not a mask ({e})') from None

    @staticmethod
    def load_sparsity_report(output_location: str) -> Dict[str, float]:
        """`sparsity_report.json` of `output_location`: {'total': ..., 'unpruned': ...} (floats).

        Raises FileNotFoundError when missing, DamagedFile when it is not such a JSON object (0 < total,
        0 <= unpruned <= total)."""
        path = paths.sparsity_report(output_location)
        with open(path, 'rb') as f:
            data = f.read()
        try:
            report = json.loads(data.decode('utf-8'))
            total, unpruned = float(report['total']), float(report['unpruned'])
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            raise DamagedFile(path, 'it is not a JSON object with numbers total and unpruned') from None
        if not 0 <= unpruned <= total or total <= 0:
            raise DamagedFile(path, f'its counts are impossible (unpruned {unpruned:g} of total {total:g})')
        return {'total': total, 'unpruned': unpruned}

    @staticmethod
    def check_saved(output_location: str) -> None:
        """Raise DamagedFile unless `mask.pth` and `sparsity_report.json` in `output_location` both read and agree
        (the report's counts are the mask's)."""
        mask = Mask.load(output_location)
        path = paths.sparsity_report(output_location)
        if not os.path.exists(path):
            raise DamagedFile(path, 'it is missing beside mask.pth')
        if Mask.load_sparsity_report(output_location) != mask.sparsity_report():
            raise DamagedFile(path, 'its counts are not those of mask.pth beside it')

    @staticmethod
    def exists(output_location: str) -> bool:
        return os.path.exists(paths.mask(output_location))

    def numpy(self) -> Dict[str, np.ndarray]:
        return {k: v.cpu().numpy() for k, v in self.items()}

    @property
    def sparsity(self) -> torch.Tensor:
        """Fraction of pruned weights, as a 0-d float tensor."""
        import torch
        unpruned = sum(torch.sum(v) for v in self.values())
        total = sum(v.numel() for v in self.values())
        return 1 - unpruned.float() / total

    @property
    def density(self) -> torch.Tensor:
        """Fraction of surviving weights, as a 0-d float tensor."""
        return 1 - self.sparsity
