"""Flattening state dicts into vectors and seeded permutations of tensors (used by the random-pruning branch)."""

from typing import Dict, Optional

import torch


def vectorize(state_dict: Dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate the flattened tensors in sorted key order into one 1-D tensor."""
    return torch.cat([state_dict[k].reshape(-1) for k in sorted(state_dict.keys())])


def unvectorize(vector: torch.Tensor, reference_state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Inverse of `vectorize`: slice a 1-D tensor into the shapes of the reference tensors (sorted key order).

    Raises ValueError when `vector` is not 1-D, is too short ('Ran out of values.') or too long ('Excess values.').
    """
    if vector.dim() != 1:
        raise ValueError('Can only unvectorize vectors.')
    result, offset = {}, 0
    for k in sorted(reference_state_dict.keys()):
        size = reference_state_dict[k].numel()
        if offset + size > vector.numel():
            raise ValueError('Ran out of values.')
        result[k] = vector[offset:offset + size].reshape(reference_state_dict[k].shape)
        offset += size
    if offset != vector.numel():
        raise ValueError('Excess values.')
    return result


def perm(n: int, seed: Optional[int] = None) -> torch.Tensor:
    """A permutation of range(n): the argsort of n standard normal draws from a generator seeded with `seed`.

    (The original's construction, so the same seed gives the same permutation as OpenLTH. With seed None the
    generator keeps PyTorch's fixed default seed, as there.)
    """
    generator = torch.Generator()
    if seed is not None:
        generator.manual_seed(seed)
    return torch.argsort(torch.normal(torch.zeros(n), torch.ones(n), generator=generator))


def shuffle_tensor(tensor: torch.Tensor, seed: Optional[int] = None) -> torch.Tensor:
    """The elements of `tensor` permuted by `perm(numel, seed)`, in the original shape."""
    return tensor.reshape(-1)[perm(tensor.numel(), seed)].reshape(tensor.shape)


def shuffle_state_dict(state_dict: Dict[str, torch.Tensor], seed: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Shuffle each tensor independently; the i-th key in sorted order uses seed + i (or None)."""
    return {k: shuffle_tensor(state_dict[k], None if seed is None else seed + i)
            for i, k in enumerate(sorted(state_dict.keys()))}
