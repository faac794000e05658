"""`Model`: the base class of every network family (one family per file, registered in models/registry.py)."""

import abc
from typing import Callable, List, Optional

import torch
import torch.nn as nn

from foundations import paths
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from foundations.io import atomic_torch_save
from foundations.step import Step


class Model(nn.Module, abc.ABC):
    """A classifier whose state_dict keys match the original OpenLTH's (so its checkpoints load unchanged).

    A family implements `is_valid_model_name`, `get_model_from_name`, `default_hparams`, `output_layer_names` and
    states its name grammar in `name_grammar` (shown when a user types an invalid name).
    Inputs are float32 (N, C, H, W) images; outputs are (N, outputs) logits.
    """

    name_grammar: str = ''

    @staticmethod
    @abc.abstractmethod
    def is_valid_model_name(model_name: str) -> bool:
        """Whether this family builds `model_name`."""

    @staticmethod
    @abc.abstractmethod
    def get_model_from_name(model_name: str, initializer: Callable[[nn.Module], None],
                            outputs: Optional[int] = None) -> 'Model':
        """Build the named model, then `self.apply(initializer)`; `outputs` (default: the family's) sets the
        width of the output layer."""

    @staticmethod
    @abc.abstractmethod
    def default_hparams():
        """The family's standard recipe, as a `lottery.desc.LotteryDesc`."""

    @property
    @abc.abstractmethod
    def output_layer_names(self) -> List[str]:
        """state_dict keys of the output layer (e.g. `['fc.weight', 'fc.bias']`)."""

    @property
    def prunable_layer_names(self) -> List[str]:
        """`<module>.weight` of every Conv2d and Linear module (shortcuts and the output layer included), in
        `named_modules` order. Biases and BatchNorm parameters are never prunable."""
        return [f'{name}.weight' for name, module in self.named_modules()
                if isinstance(module, (nn.Conv2d, nn.Linear))]

    @property
    def memory_format(self) -> torch.memory_format:
        """The faster layout for this model's weights and 4-D inputs: channels_last for convolutional networks (about
        15% faster for cifar_resnet_20 forward+backward on a 2-core CPU, see benchmarks/model_speed.py, and the
        layout GPU tensor cores prefer), contiguous otherwise. Results do not depend on it beyond float rounding."""
        if any(isinstance(m, nn.Conv2d) for m in self.modules()):
            return torch.channels_last
        return torch.contiguous_format

    @property
    def loss_criterion(self) -> nn.Module:
        """Mean cross-entropy over the batch."""
        return nn.CrossEntropyLoss()

    def save(self, save_location: str, save_step: Step) -> None:
        """Write the bare state_dict to `model_ep{E}_it{I}.pth` atomically (callers decide which process saves)."""
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        atomic_torch_save(state, paths.model(save_location, save_step))


class WrapperModel(Model):
    """A Model around another one (`inner`): the inner model's prunable and output names, loss, memory layout and
    `save` (so saved files hold the bare inner state_dict). Used by the original's DataParallel /
    DistributedDataParallel models (inner = `module`) and by pruning.pruned_model.PrunedModel (inner = `model`);
    a wrapper is not a model family, so the family methods raise NotImplementedError."""

    @property
    def inner(self) -> Model:
        return self.module

    @property
    def prunable_layer_names(self) -> List[str]:
        return self.inner.prunable_layer_names

    @property
    def output_layer_names(self) -> List[str]:
        return self.inner.output_layer_names

    @property
    def loss_criterion(self) -> nn.Module:
        return self.inner.loss_criterion

    @property
    def memory_format(self) -> torch.memory_format:
        return self.inner.memory_format

    def save(self, save_location: str, save_step: Step) -> None:
        self.inner.save(save_location, save_step)

    @staticmethod
    def is_valid_model_name(model_name):
        raise NotImplementedError

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        raise NotImplementedError

    @staticmethod
    def default_hparams():
        raise NotImplementedError


class DataParallel(WrapperModel, nn.DataParallel):
    """`torch.nn.DataParallel(module)` that is also a Model (the original's, used when `platform.is_parallel`)."""

    def __init__(self, module: Model):
        super().__init__(module=module)


class DistributedDataParallel(WrapperModel, nn.parallel.DistributedDataParallel):
    """`torch.nn.parallel.DistributedDataParallel(module, device_ids)` that is also a Model (the original's)."""

    def __init__(self, module: Model, device_ids):
        super().__init__(module=module, device_ids=device_ids)


def init_fn_from(weight_initializer: Callable, batchnorm_initializer: Callable) -> Callable[[nn.Module], None]:
    """`module.apply`-style function: the weight initializer, then the BatchNorm initializer, on each module."""
    def init_fn(module: nn.Module) -> None:
        weight_initializer(module)
        batchnorm_initializer(module)
    return init_fn


# Moved to models/families.py (no torch needed); kept here for code written against models.base.
from models.families import numbers_in_name, preset  # noqa: E402,F401


def to_memory_format(examples: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """A batch of images (N, C, H, W) in the given layout (a model's `memory_format`); other tensors unchanged."""
    return examples.contiguous(memory_format=memory_format) if examples.dim() == 4 else examples


def flatten_batch(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N, prod(...))."""
    return x.reshape(x.size(0), -1)
