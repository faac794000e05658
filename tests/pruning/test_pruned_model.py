"""PrunedModel on the original's toy model (an inner product with weights arange(n)), and under real optimizers."""

import pytest
import torch
import torch.nn as nn

from foundations.hparams import ModelHparams, TrainingHparams
from models import base, registry
from pruning.mask import Mask
from pruning.pruned_model import PrunedModel
from training import optimizers


class InnerProductModel(base.Model):
    """Linear(n, 1, bias=False) with weights arange(n); MSE loss (the original's test toy)."""

    def __init__(self, n):
        super().__init__()
        self.layer = nn.Linear(n, 1, bias=False)
        self.layer.weight.data = torch.arange(n, dtype=torch.float32).view(1, -1)

    def forward(self, x):
        return self.layer(x)

    @property
    def output_layer_names(self):
        raise NotImplementedError

    @property
    def loss_criterion(self):
        return nn.MSELoss()

    @staticmethod
    def is_valid_model_name(model_name):
        return False

    @staticmethod
    def get_model_from_name(model_name, initializer, outputs=None):
        raise NotImplementedError

    @staticmethod
    def default_hparams():
        raise NotImplementedError


def step(model, optimizer):
    x, y = torch.ones(1, 10), torch.tensor([[40.0]])
    optimizer.zero_grad()
    model.loss_criterion(model(x), y).backward()
    optimizer.step()


def test_toy_model_without_pruning():
    model = InnerProductModel(10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    outputs = []
    for _ in range(4):
        outputs.append(model(torch.ones(1, 10)).item())
        step(model, optimizer)
    assert outputs == pytest.approx([45.0, 44.0, 43.2, 42.56])


def test_alternating_mask():
    mask = Mask({'layer.weight': torch.tensor([[1.0, 0] * 5])})
    model = PrunedModel(InnerProductModel(10), mask)
    assert model(torch.ones(1, 10)).item() == 20
    assert model.model.layer.weight.tolist()[0] == [0, 0, 2, 0, 4, 0, 6, 0, 8, 0]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    step(model, optimizer)
    assert model(torch.ones(1, 10)).item() == pytest.approx(22)
    assert model.model.layer.weight[0].tolist() == pytest.approx([0.4, 0, 2.4, 0, 4.4, 0, 6.4, 0, 8.4, 0])
    assert set(model.state_dict()) == {'model.layer.weight', 'mask_layer___weight'}


def test_state_dict_restores_mask():
    inner = InnerProductModel(10)
    inner.layer.weight.data = torch.arange(10, 20, dtype=torch.float32).view(1, -1)
    model = PrunedModel(inner, Mask({'layer.weight': torch.tensor([[1.0, 0] * 5])}))
    assert model(torch.ones(1, 10)).item() == 70
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    step(model, optimizer)
    assert model(torch.ones(1, 10)).item() == pytest.approx(67)
    other = PrunedModel(InnerProductModel(10), Mask({'layer.weight': torch.ones(1, 10)}))
    other.load_state_dict(model.state_dict())
    assert other(torch.ones(1, 10)).item() == pytest.approx(67)
    step(other, torch.optim.SGD(other.parameters(), lr=0.01))
    assert round(other(torch.ones(1, 10)).item(), 1) == 64.3


def test_bad_masks():
    for mask in [{}, {'layer.weight': torch.ones(1, 10), 'other.weight': torch.ones(1)},
                 {'layer.weight': torch.ones(10)}]:
        with pytest.raises(ValueError):
            PrunedModel(InnerProductModel(10), Mask(mask))
    with pytest.raises(ValueError):
        PrunedModel(PrunedModel(InnerProductModel(10), Mask({'layer.weight': torch.ones(1, 10)})), Mask())


def test_save_writes_inner_masked_state(tmp_path):
    from foundations.step import Step
    model = PrunedModel(InnerProductModel(10), Mask({'layer.weight': torch.tensor([[1.0, 0] * 5])}))
    model.model.layer.weight.data += 1  # as an optimizer step might
    model.save(str(tmp_path), Step(3, 2))
    saved = torch.load(tmp_path / 'model_ep1_it1.pth')
    assert list(saved) == ['layer.weight']
    assert saved['layer.weight'][0, 1::2].abs().sum() == 0


@pytest.mark.parametrize('recipe', [
    TrainingHparams('sgd', 0.05, '1ep', momentum=0.9, weight_decay=1e-2),
    TrainingHparams('adam', 1e-3, '1ep', weight_decay=1e-2),
])
def test_pruned_weights_never_reach_an_output(recipe):
    """100 steps with momentum/Adam and weight decay: every forward equals that of an explicitly masked copy, and
    an unpruned weight that starts at exactly 0 still trains."""
    torch.manual_seed(0)
    inner = registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=5)
    mask = Mask({name: (torch.rand_like(inner.state_dict()[name]) > 0.5).float()
                 for name in inner.prunable_layer_names})
    kept = (mask['fc_layers.0.weight'] == 1).nonzero()[0]
    with torch.no_grad():
        inner.fc_layers[0].weight[kept[0], kept[1]] = 0.0
    model = PrunedModel(inner, mask)
    optimizer = optimizers.get_optimizer(recipe, model)
    reference = registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=5)
    for _ in range(100):
        x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
        output = model(x)
        state = {k: v * mask[k] if k in mask else v for k, v in inner.state_dict().items()}
        reference.load_state_dict(state)
        assert torch.equal(output, reference(x))
        optimizer.zero_grad()
        model.loss_criterion(output, y).backward()
        optimizer.step()
    model(torch.zeros(1, 1, 28, 28))
    for name, value in mask.items():
        assert inner.state_dict()[name][value == 0].abs().sum() == 0
    assert inner.fc_layers[0].weight[kept[0], kept[1]] != 0
