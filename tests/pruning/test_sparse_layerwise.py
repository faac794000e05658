"""sparse_layerwise: every non-ignored tensor keeps floor((1-f) x its survivors) per level, i.e. (1-f)^L; ignoring
is by exact name; the smallest trained magnitudes of each tensor go first."""

import pytest
import torch

from foundations.hparams import HparamsError, ModelHparams
from models import registry
from pruning import sparse_layerwise


def lenet(seed=3, name='mnist_lenet_300_100'):
    return registry.get(ModelHparams(name, 'kaiming_normal', 'uniform'), seed=seed)


def test_per_layer_density_is_08_to_the_level_for_every_non_ignored_layer():
    model = lenet()
    hparams = sparse_layerwise.PruningHparams('sparse_layerwise', 0.2, 'fc.weight')
    sizes = {name: model.state_dict()[name].numel() for name in model.prunable_layer_names}
    expected = dict(sizes)
    mask = None
    for level in range(1, 9):
        new = sparse_layerwise.Strategy.prune(hparams, model, mask)
        if mask is not None:  # Never revives a weight.
            assert all(bool((new[k] <= mask[k]).all()) for k in mask)
        mask = new
        for name in ['fc_layers.0.weight', 'fc_layers.1.weight']:
            expected[name] -= -(-expected[name] * 2 // 10)  # exactly ceil(0.2 x survivors), in integers
            kept = int(mask[name].sum())
            assert kept == expected[name]
            assert abs(kept / sizes[name] - 0.8 ** level) < 5 / sizes[name]  # (1-f)^L up to 1/f weights
        assert int(mask['fc.weight'].sum()) == sizes['fc.weight']  # ignored: dense
    assert [int(mask[k].sum()) for k in mask] == [39459, 5032, 1000]  # 235200 x 0.8^8 = 39460.9


def test_prunes_the_smallest_magnitudes_of_each_tensor():
    model = lenet()
    mask = sparse_layerwise.Strategy.prune(sparse_layerwise.PruningHparams('sparse_layerwise', 0.5), model)
    state = model.state_dict()
    for name, m in mask.items():
        assert int(m.sum()) == state[name].numel() // 2
        assert state[name][m == 1].abs().min() > state[name][m == 0].abs().max()


def test_exact_name_ignoring():
    """`fc.weight` names only fc.weight: a model with a tensor ending in `c.weight`, `fc.weight` and a prefix
    `fc_layers.0.weight` prunes the others."""
    model = lenet(name='mnist_lenet_20_10')
    hparams = sparse_layerwise.PruningHparams('sparse_layerwise', 0.2, 'fc.weight')
    mask = sparse_layerwise.Strategy.prune(hparams, model)
    assert {k: int(v.sum()) for k, v in mask.items()} == {'fc_layers.0.weight': 12544, 'fc_layers.1.weight': 160,
                                                          'fc.weight': 100}
    for bad in ['c.weight', 'fc', 'fc_layers.0', 'fc.weight ', 'FC.weight']:
        with pytest.raises(HparamsError, match=rf"argument --pruning_layers_to_ignore: '{bad}' is not a prunable "
                                               r"tensor of this model; choose from: fc_layers.0.weight, "
                                               r"fc_layers.1.weight, fc.weight"):
            sparse_layerwise.Strategy.validate(sparse_layerwise.PruningHparams('sparse_layerwise', 0.2, bad), model)


def test_ties_and_exact_counts_with_equal_magnitudes():
    model = lenet(name='mnist_lenet_20_10')
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.5)
    mask = sparse_layerwise.Strategy.prune(sparse_layerwise.PruningHparams('sparse_layerwise', 0.3), model)
    # All tied: exactly ceil(0.3 x n) go, the first positions first.
    assert {k: int((v == 0).sum()) for k, v in mask.items()} == {'fc_layers.0.weight': 4704,
                                                                  'fc_layers.1.weight': 60, 'fc.weight': 30}
    assert int(mask['fc.weight'].reshape(-1)[:30].sum()) == 0 and int(mask['fc.weight'].reshape(-1)[30:].sum()) == 70
