"""Weight initializers for Conv2d and Linear weights (`--model_init`). Biases keep PyTorch's default."""

from __future__ import annotations  # annotations name torch types, imported only when a model is built


def _is_weighted(module: nn.Module) -> bool:
    import torch.nn as nn
    return isinstance(module, (nn.Linear, nn.Conv2d))


def kaiming_normal(module: nn.Module) -> None:
    """He et al. 2015: N(0, 2 / fan_in)."""
    import torch.nn as nn
    if _is_weighted(module):
        nn.init.kaiming_normal_(module.weight)


def kaiming_uniform(module: nn.Module) -> None:
    """He et al. 2015, uniform variant: U(-b, b) with b = sqrt(6 / fan_in)."""
    import torch.nn as nn
    if _is_weighted(module):
        nn.init.kaiming_uniform_(module.weight)


def orthogonal(module: nn.Module) -> None:
    """Saxe et al. 2014: a (semi-)orthogonal matrix."""
    import torch.nn as nn
    if _is_weighted(module):
        nn.init.orthogonal_(module.weight)


def binary(module: nn.Module) -> None:
    """Kaiming normal, then every weight becomes sign(w) x std(w) (unbiased std of that tensor)."""
    import torch
    import torch.nn as nn
    if _is_weighted(module):
        nn.init.kaiming_normal_(module.weight)
        with torch.no_grad():
            module.weight.copy_(torch.sign(module.weight) * torch.std(module.weight))


registered_initializers = {
    'kaiming_normal': kaiming_normal,
    'kaiming_uniform': kaiming_uniform,
    'orthogonal': orthogonal,
    'binary': binary,
}
