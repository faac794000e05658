"""BatchNorm initializers (`--batchnorm_init`): they set gamma (weight) and beta (bias) of BatchNorm2d modules."""

from __future__ import annotations  # annotations name torch types, imported only when a model is built


def _is_batchnorm(module: nn.Module) -> bool:
    import torch.nn as nn
    return isinstance(module, nn.BatchNorm2d)


def uniform(module: nn.Module) -> None:
    """gamma ~ U[0, 1), beta = 0."""
    import torch
    if _is_batchnorm(module):
        module.reset_parameters()
        with torch.no_grad():
            module.weight.copy_(torch.rand_like(module.weight))


def fixed(module: nn.Module) -> None:
    """gamma = 1, beta = 0."""
    if _is_batchnorm(module):
        module.reset_parameters()


def oneone(module: nn.Module) -> None:
    """gamma = 1, beta = 1."""
    import torch
    if _is_batchnorm(module):
        module.reset_parameters()
        with torch.no_grad():
            module.bias.fill_(1.0)


def positivenegative(module: nn.Module) -> None:
    """gamma ~ U[-1, 1), beta = 0."""
    import torch
    if _is_batchnorm(module):
        module.reset_parameters()
        with torch.no_grad():
            module.weight.copy_(torch.rand_like(module.weight) * 2 - 1)


registered_bn_initializers = {
    'uniform': uniform,
    'fixed': fixed,
    'oneone': oneone,
    'positivenegative': positivenegative,
}
