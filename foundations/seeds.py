"""Seeds derived from a job's identity, so that the same command always initialises the same weights.

The original OpenLTH left initialisation to the unseeded global RNG; we derive a seed from a purpose string and
the replicate (and, for branches, the level and the branch's own seed), so reruns reproduce and different purposes
never share a random stream.
"""

import hashlib


def derive_seed(purpose: str, *parts) -> int:
    """A 63-bit seed from the SHA-256 of `purpose` and `parts` (stable across Python versions and machines)."""
    text = '/'.join(['open_lth', purpose] + [str(p) for p in parts])
    return int.from_bytes(hashlib.sha256(text.encode('utf-8')).digest()[:8], 'little') >> 1


def model_init_seed(replicate: int) -> int:
    """The seed of the initial weights of replicate `replicate` of a train or lottery run."""
    return derive_seed('model_init', replicate)
