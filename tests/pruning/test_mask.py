import json

import numpy as np
import pytest
import torch

from foundations.hparams import ModelHparams
from models import registry
from pruning.mask import Mask


def test_dict_behaviour_and_validation():
    mask = Mask()
    mask['a'] = torch.ones(3)
    mask['b'] = np.zeros((2, 2))
    assert len(mask) == 2 and isinstance(mask['b'], torch.Tensor)
    del mask['a']
    assert list(mask) == ['b']
    for key, value in [('', torch.ones(1)), (3, torch.ones(1)), ('c', [1, 0]), ('d', torch.tensor([2.0]))]:
        with pytest.raises(ValueError):
            mask[key] = value
    assert list(Mask({'x': torch.ones(2)})) == ['x']


def test_ones_like_covers_prunable_tensors():
    model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=0)
    mask = Mask.ones_like(model)
    assert list(mask) == ['fc_layers.0.weight', 'fc_layers.1.weight', 'fc.weight']
    assert [tuple(v.shape) for v in mask.values()] == [(300, 784), (100, 300), (10, 100)]
    assert float(mask.density) == 1.0


def test_save_load_and_report(tmp_path):
    mask = Mask({'a': torch.tensor([1.0, 0.0, 1.0]), 'b': torch.zeros(2, 2)})
    assert not Mask.exists(str(tmp_path))
    with pytest.raises(ValueError, match='Mask not found'):
        Mask.load(str(tmp_path))
    mask.save(str(tmp_path))
    assert (tmp_path / 'sparsity_report.json').read_text() == '{\n    "total": 7.0,\n    "unpruned": 2.0\n}'
    loaded = Mask.load(str(tmp_path))
    assert loaded['a'].dtype == torch.int32 and loaded['a'].tolist() == [1, 0, 1]
    assert json.loads((tmp_path / 'sparsity_report.json').read_text()) == {'total': 7.0, 'unpruned': 2.0}
    assert float(loaded.sparsity) == pytest.approx(5 / 7)
