"""`PrunedModel`: a model whose pruned weights are zero in every forward pass."""

import torch

from models import base
from pruning.mask import Mask


def mask_buffer_name(tensor_name: str) -> str:
    """`blocks.0.conv1.weight` -> `mask_blocks___0___conv1___weight` (the original's buffer names)."""
    return 'mask_' + tensor_name.replace('.', '___')


class PrunedModel(base.WrapperModel):
    """Wraps `model` so that each prunable weight is multiplied by its mask before every forward pass.

    Masks are float buffers (saved in `state_dict`, so checkpoints restore them). The weights are masked at
    construction and again at the start of each forward, so whatever the optimizer does to pruned positions
    (momentum, Adam moments, weight decay) never reaches an output; masking uses the mask, not the weight's value,
    so an unpruned weight that happens to be 0 keeps training. `save` writes the inner model's state, masked.

    Raises ValueError if `model` is already a PrunedModel, or if the mask's names or shapes do not match the
    model's prunable tensors exactly.
    """

    def __init__(self, model: base.Model, mask: Mask):
        if isinstance(model, PrunedModel):
            raise ValueError('Cannot nest pruned models.')
        super().__init__()
        self.model = model
        parameters = dict(model.named_parameters())
        for name in model.prunable_layer_names:
            if name not in mask:
                raise ValueError(f'Missing mask value {name}.')
            if tuple(mask[name].shape) != tuple(parameters[name].shape):
                raise ValueError(f'Incorrect mask shape {tuple(mask[name].shape)} for tensor {name}.')
        for name in mask:
            if name not in model.prunable_layer_names:
                raise ValueError(f'Key {name} found in mask but is not a valid model tensor.')
        for name, value in mask.items():
            device = parameters[name].device
            self.register_buffer(mask_buffer_name(name), value.to(device=device, dtype=torch.float32))
        self._apply_mask()

    @staticmethod
    def to_mask_name(name: str) -> str:
        """The mask buffer's name for a tensor (the original's static method; see `mask_buffer_name`)."""
        return mask_buffer_name(name)

    def _apply_mask(self) -> None:
        with torch.no_grad():
            parameters = dict(self.model.named_parameters())
            for name in self.model.prunable_layer_names:
                parameters[name].mul_(getattr(self, mask_buffer_name(name)))

    def forward(self, x):
        self._apply_mask()
        return self.model(x)

    @property
    def inner(self) -> base.Model:
        return self.model

    def save(self, save_location, save_step):
        self._apply_mask()
        super().save(save_location, save_step)
