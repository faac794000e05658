"""sparse_global against pruning.json: the exact number of weights removed per layer and level, as the original."""

import pytest
import torch

from foundations.hparams import HparamsError, ModelHparams
from models import registry
from pruning import sparse_global
from tests.conftest import load_golden

GOLDEN = load_golden('pruning.json')


def build_weights(case):
    """The model described by the case's weights_recipe."""
    recipe = case['weights_recipe']
    name = case['model_name']
    if recipe.startswith('torch.manual_seed(0)'):
        torch.manual_seed(0)
        return registry.get(ModelHparams(name, 'kaiming_normal', 'uniform'))
    model = registry.get(ModelHparams(name, 'kaiming_normal', 'uniform'), seed=0)
    state = model.state_dict()
    if 'manual_seed(1234)' in recipe:
        g = torch.Generator().manual_seed(1234)
        for k in sorted(model.prunable_layer_names):
            state[k] = torch.randn(state[k].shape, generator=g)
    elif 'arange(7840) % 100' in recipe:
        state['fc_layers.0.weight'] = ((torch.arange(7840) % 100).float() / 100 - 0.5).reshape(10, 784)
        state['fc.weight'] = (torch.arange(100).float() / 100 - 0.5).reshape(10, 10)
    elif 'arange(1, 7941)' in recipe:
        g = torch.Generator().manual_seed(0)
        signs = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(7940)], dtype=torch.float64)
        vals = torch.arange(1, 7941).double() / 7940 * signs
        vals = vals[torch.randperm(7940, generator=g)].float()
        state['fc_layers.0.weight'] = vals[:7840].reshape(10, 784)
        state['fc.weight'] = vals[7840:].reshape(10, 10)
    else:
        raise AssertionError(f'unknown recipe {recipe}')
    model.load_state_dict(state)
    return model


def needed_models_exist(case):
    try:
        registry.family(case['model_name'])
        return True
    except HparamsError:
        return False


@pytest.mark.parametrize('case', GOLDEN['cases'], ids=lambda c: f"{c['id']}-{c['model_name']}")
def test_counts_per_layer_and_report(case):
    if not needed_models_exist(case):
        pytest.skip('model family not registered')
    model = build_weights(case)
    hparams = sparse_global.PruningHparams('sparse_global', case['pruning_fraction'],
                                           case['pruning_layers_to_ignore'])
    mask = None
    for step in case['steps']:
        if 'error' in step:  # Fraction 1.0 crashed the original; we raise a clear ValueError.
            with pytest.raises(ValueError, match='Cannot prune 7941 weights: only 7940 prunable weights survive'):
                sparse_global.Strategy.prune(hparams, model, mask)
            return
        mask = sparse_global.Strategy.prune(hparams, model, mask)
        assert {k: int(v.sum()) for k, v in mask.items()} == step['remaining_per_layer']
        assert list(mask) == step['mask_key_order']
        report = mask.sparsity_report()
        import json
        assert json.dumps(report, indent=4) == step['sparsity_report_json_text']


def test_error_cases():
    model = registry.get(ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform'), seed=0)
    with pytest.raises(HparamsError, match=r"argument --pruning_layers_to_ignore: 'bogus.weight' is not a prunable"):
        sparse_global.Strategy.validate(sparse_global.PruningHparams('sparse_global', 0.2, 'bogus.weight'), model)
    with pytest.raises(HparamsError, match='every prunable tensor is ignored'):
        sparse_global.Strategy.validate(
            sparse_global.PruningHparams('sparse_global', 0.2, 'fc_layers.0.weight,fc.weight'), model)
    with pytest.raises(HparamsError, match=r'--pruning_fraction: must be a fraction in \[0, 1\), got 1.0'):
        sparse_global.Strategy.validate(sparse_global.PruningHparams('sparse_global', 1.0), model)


def test_kept_weights_exceed_pruned_and_masks_shrink():
    model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=3)
    hparams = sparse_global.PruningHparams('sparse_global', 0.2)
    mask = None
    for level in range(1, 6):
        new = sparse_global.Strategy.prune(hparams, model, mask)
        if mask is not None:
            assert all(bool((new[k] <= mask[k]).all()) for k in mask)
        mask = new
        kept = torch.cat([model.state_dict()[k][v == 1].abs() for k, v in mask.items()])
        pruned = torch.cat([model.state_dict()[k][v == 0].abs() for k, v in mask.items()])
        assert kept.min() > pruned.max()
        assert float(mask.density) == pytest.approx(0.8 ** level, abs=1e-4)
