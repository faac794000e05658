"""The model zoo against golden data recorded on the original OpenLTH (tests/golden/models.json, help_defaults.json).

Structure checks build on the `meta` device (no memory, no random draws); init statistics and logits build for real
after `torch.manual_seed(0)`, because they only match when modules are built and initialised in the original's order.
"""

import dataclasses

import pytest
import torch
import torch.nn as nn

from foundations.hparams import HparamsError, ModelHparams
from models import cifar_resnet, cifar_vgg, imagenet_resnet, mnist_lenet, registry
from pruning import sparse_global
from tests.conftest import load_golden

GOLDEN = load_golden('models.json')
MODELS = GOLDEN['models']
PRESETS = load_golden('help_defaults.json')['models']
FAMILIES = [mnist_lenet.Model, cifar_resnet.Model, cifar_vgg.Model, imagenet_resnet.Model]

# The recorded eval-forward inputs: torch.linspace(-1, 1, numel).reshape(shape).
EVAL_INPUT_SHAPES = {'mnist': [2, 1, 28, 28], 'cifar': [2, 3, 32, 32]}


def hparams(name, model_init='kaiming_normal', batchnorm_init='uniform', **flags):
    return ModelHparams(name, model_init, batchnorm_init, **flags)


def build_meta(name, **kwargs):
    with torch.device('meta'):
        return registry.get(hparams(name), **kwargs)


def build_seed0(name, **flags):
    torch.manual_seed(0)
    return registry.get(hparams(name, **flags))


def state_entries(model):
    return [{'key': k, 'shape': list(v.shape), 'dtype': str(v.dtype).removeprefix('torch.')}
            for k, v in model.state_dict().items()]


# Structure ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', MODELS)
def test_structure_matches_original(name):
    golden = MODELS[name]
    model = build_meta(name)
    state = model.state_dict()
    params = dict(model.named_parameters())

    assert state_entries(model) == golden['state_dict']
    assert list(params) == golden['parameter_names_in_order']
    assert sum(p.numel() for p in params.values()) == golden['num_parameters']
    assert sum(p.numel() for p in params.values() if p.requires_grad) == golden['num_trainable_parameters']
    assert len(state) == golden['num_state_dict_entries']
    assert sum(v.numel() for v in state.values()) == golden['num_state_dict_elements']
    assert model.output_layer_names == golden['output_layer_names']
    assert model.prunable_layer_names == golden['prunable_layer_names']
    assert sum(state[k].numel() for k in model.prunable_layer_names) == golden['num_prunable_weights']
    assert type(model.loss_criterion).__name__ == golden['loss_criterion']


@pytest.mark.parametrize('name, count', [
    ('cifar_resnet_20', 272474), ('cifar_resnet_110', 1730714), ('cifar_resnet_14_128', 11093130),
    ('cifar_vgg_11', 9231114), ('cifar_vgg_13', 9416010), ('cifar_vgg_16', 14728266), ('cifar_vgg_19', 20040522),
])
def test_parameter_counts_from_spec(name, count):
    assert sum(p.numel() for p in build_meta(name).parameters()) == count


@pytest.mark.parametrize('name', ['mnist_lenet_300_100', 'cifar_resnet_20', 'cifar_resnet_14_32', 'cifar_vgg_11',
                                  'imagenet_resnet_18'])
def test_state_dict_of_recorded_shapes_loads_strictly(name):
    """An original checkpoint (recorded keys, shapes, dtypes; random values) loads with strict=True."""
    generator = torch.Generator().manual_seed(1)
    dtypes = {'float32': torch.float32, 'int64': torch.int64}
    state = {}
    for entry in MODELS[name]['state_dict']:
        dtype = dtypes[entry['dtype']]
        state[entry['key']] = (torch.randn(entry['shape'], generator=generator) if dtype.is_floating_point
                               else torch.randint(0, 100, entry['shape'], generator=generator))
    model = build_seed0(name)
    model.load_state_dict(state, strict=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


# Initialisation ----------------------------------------------------------------------------------------------------

def check_seed0_init_stats(name):
    state = build_seed0(name).state_dict()
    for key, stats in MODELS[name]['seed0_init_stats'].items():
        tensor = state[key]
        # The golden values carry 7 significant digits; float32 sums err by far less than this tolerance.
        tol = 1e-5 * max(stats['abs_sum'], 1.0)
        assert tensor.sum().item() == pytest.approx(stats['sum'], abs=tol), key
        assert tensor.abs().sum().item() == pytest.approx(stats['abs_sum'], abs=tol), key
        assert tensor.flatten()[:3].tolist() == pytest.approx(stats['first3'], rel=1e-5, abs=1e-7), key


# The biggest models take seconds each to draw. imagenet_resnet_101 and _152 differ from _50 and _200 only in block
# counts (same code path, same draw order), so their stats are not re-checked; their structure is. The width-128 and
# depth-200 checks are named `slow` so that `-k "not slow"` skips them.
BIG = ['imagenet_resnet_200', 'imagenet_resnet_50_128']
UNCHECKED = ['imagenet_resnet_101', 'imagenet_resnet_152']


@pytest.mark.parametrize('name', [n for n in MODELS if n not in BIG + UNCHECKED])
def test_seed0_init_stats_match_original(name):
    """Same modules in the same order consuming the global RNG the same way => the original's exact weights."""
    check_seed0_init_stats(name)


@pytest.mark.parametrize('name', BIG)
def test_seed0_init_stats_match_original_slow(name):
    check_seed0_init_stats(name)


@pytest.mark.parametrize('name', [n for n in MODELS if 'seed0_eval_forward' in MODELS[n]])
def test_seed0_eval_logits_match_original(name):
    golden = MODELS[name]['seed0_eval_forward']
    shape = EVAL_INPUT_SHAPES[name.split('_')[0]]
    x = torch.linspace(-1, 1, torch.Size(shape).numel()).reshape(shape)
    model = build_seed0(name).eval()
    with torch.no_grad():
        logits = model(x)
    assert list(logits.shape) == golden['output_shape']
    assert logits.tolist() == [pytest.approx(row, abs=1e-5) for row in golden['output']]


@pytest.mark.parametrize('name', ['cifar_resnet_20', 'cifar_vgg_11', 'imagenet_resnet_18'])
def test_batchnorm_init_uniform_and_fixed(name):
    for batchnorm_init in ('uniform', 'fixed'):
        torch.manual_seed(0)
        model = registry.get(hparams(name, batchnorm_init=batchnorm_init))
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        assert bns
        weights = torch.cat([bn.weight.detach() for bn in bns])
        assert torch.equal(torch.cat([bn.bias.detach() for bn in bns]), torch.zeros_like(weights))
        if batchnorm_init == 'uniform':
            assert weights.min() >= 0 and weights.max() < 1
            assert weights.unique().numel() > weights.numel() // 2
        else:
            assert torch.equal(weights, torch.ones_like(weights))


def test_imagenet_resnet_initializer_overrides_construction_init():
    """torchvision's kaiming_normal(fan_out) draws are replaced by the chosen initializer (fan_in here)."""
    stem = build_seed0('imagenet_resnet_18').model.conv1.weight  # fan_in = 3 * 7 * 7; fan_out = 64 * 7 * 7.
    assert stem.std().item() == pytest.approx((2 / (3 * 7 * 7)) ** 0.5, rel=0.05)


# Outputs and forward passes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('case', GOLDEN['outputs_override'])
def test_outputs_override(case):
    name, outputs = case.split()[0], int(case.split()[1].removeprefix('outputs='))
    assert list(build_meta(name, outputs=outputs).state_dict()['fc.weight'].shape) == GOLDEN['outputs_override'][case]


@pytest.mark.parametrize('name, outputs, key, shape', [
    ('cifar_vgg_16', 100, 'fc.weight', [100, 512]),
    ('cifar_resnet_20_32', None, 'fc.weight', [10, 128]),
    ('imagenet_resnet_50', 10, 'model.fc.weight', [10, 2048]),
    ('imagenet_resnet_18_32', None, 'model.fc.weight', [1000, 256]),
])
def test_output_widths(name, outputs, key, shape):
    assert list(build_meta(name, outputs=outputs).state_dict()[key].shape) == shape


@pytest.mark.parametrize('name, input_shape, outputs', [
    ('cifar_resnet_8_2', [3, 3, 32, 32], 10),
    ('cifar_vgg_11', [2, 3, 32, 32], 10),
    ('imagenet_resnet_18_8', [2, 3, 32, 32], 7),
])
def test_forward_backward(name, input_shape, outputs):
    torch.manual_seed(0)
    model = registry.get(hparams(name), outputs=outputs)
    logits = model(torch.randn(input_shape))
    assert logits.shape == (input_shape[0], outputs)
    model.loss_criterion(logits, torch.zeros(input_shape[0], dtype=torch.long)).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_channels_last_gives_the_same_logits():
    torch.manual_seed(0)
    model = registry.get(hparams('cifar_resnet_8')).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        actual = model(x.to(memory_format=torch.channels_last))
    assert torch.allclose(actual, expected, atol=1e-5)


# Names -------------------------------------------------------------------------------------------------------------

VALID = {
    cifar_resnet.Model: ['cifar_resnet_20', 'cifar_resnet_20_1', 'cifar_resnet_20_16', 'cifar_resnet_32',
                         'cifar_resnet_56', 'cifar_resnet_110', 'cifar_resnet_14_128', 'cifar_resnet_8'],
    cifar_vgg.Model: ['cifar_vgg_11', 'cifar_vgg_13', 'cifar_vgg_16', 'cifar_vgg_19'],
    imagenet_resnet.Model: [f'imagenet_resnet_{d}{w}' for d in (18, 34, 50, 101, 152, 200) for w in ('', '_32')],
}
INVALID = (
    [f'cifar_resnet_{x}' for x in ('0', '1', '6', '11', '18', '34', '20_0', '20_-1', '20_16_16', '-20', '', 'x',
                                   '20_x', '2', '20_')]
    + ['cifar_resnet', 'cifar_resnet20', 'cifarresnet_20']
    + [f'cifar_vgg_{x}' for x in ('12', '10', '16_1', '', 'x', '-16')] + ['cifar_vgg', 'cifar_vgg16']
    + [f'imagenet_resnet_{x}' for x in ('19', '269', '0', '50_x', '50_0', '50_-1', '50_64_1', '', '50_')]
    + ['imagenet_resnet', 'imagenet_resnet50', 'resnet_50', 'cifar_resnet_51', 'imagenet_vgg_16']
    # A misspelled family is an unknown model (the original's prefix check took `mnist_lenetX_300` and trained it).
    + ['mnist_lenetX_300', 'mnist_lenett_300_100', 'mnist_lenet300_100', 'mnist_lenet', 'mnist_lenet_0']
)


@pytest.mark.parametrize('family', VALID)
def test_valid_names(family):
    for name in VALID[family]:
        assert family.is_valid_model_name(name), name
        assert registry.family(name) is family, name
    for name in VALID[family][:4]:
        build_meta(name)


@pytest.mark.parametrize('name', INVALID)
def test_invalid_names_give_one_line_error_listing_every_grammar(name):
    assert not any(family.is_valid_model_name(name) for family in FAMILIES)
    with pytest.raises(HparamsError) as error:
        registry.validate(hparams(name))
    message = str(error.value)
    assert '\n' not in message and '--model_name' in message and repr(name) in message
    for family in FAMILIES:
        assert family.name_grammar and family.name_grammar in message


@pytest.mark.parametrize('family', FAMILIES[1:])
def test_get_model_from_name_rejects_invalid_names(family):
    with pytest.raises(ValueError, match='Invalid model name'):
        family.get_model_from_name('cifar_vgg_12_resnet', lambda module: None)


def test_registered_order():
    assert registry.registered_models == FAMILIES


@pytest.mark.parametrize('case', GOLDEN['registry_get_edge_cases'])
def test_registry_edge_cases(case):
    model_hparams = hparams(case['model_name'], case['model_init'], case['batchnorm_init'])
    if case['error'] is None:
        assert sum(p.numel() for p in build_meta(case['model_name']).parameters()) == case['num_parameters']
    else:
        bad_value = case['error'].split(': ')[-1]
        with pytest.raises(HparamsError, match=bad_value):
            registry.validate(model_hparams)


# Presets -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', PRESETS)
def test_preset_equals_original(name):
    preset = registry.get_default_hparams(name)
    ours = dataclasses.asdict(preset)
    assert ours['training_hparams'].pop('amp_dtype') is None  # open_lth's hash-neutral addition
    assert ours == PRESETS[name]['registry_defaults']
    assert type(preset.pruning_hparams) is sparse_global.PruningHparams
    assert preset.model_hparams.model_name == name


# Freezing ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('case', GOLDEN['freezing'], ids=lambda c: f"{c['model_name']}-{sorted(c['flags'].items())}")
def test_freezing_matches_original(case):
    model_hparams = hparams(case['model_name'], **case['flags'])
    if 'error' in case:
        with pytest.raises(HparamsError, match=case['error'].split(': ')[-1]):
            registry.validate(model_hparams)
        return
    with torch.device('meta'):
        model = registry.get(model_hparams)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == case['frozen_parameters']


@pytest.mark.parametrize('name', ['cifar_vgg_11', 'imagenet_resnet_18', 'cifar_resnet_20'])
def test_freezing_rules_per_family(name):
    """The original's freezing: BN flag -> BatchNorm weights/biases; output flag -> output layer; others -> the rest."""
    model = build_meta(name)
    bn = {f'{m}.{p}' for m, module in model.named_modules() if isinstance(module, nn.BatchNorm2d)
          for p in ('weight', 'bias')}
    output = set(model.output_layer_names)
    everything = {n for n, _ in model.named_parameters()}
    expected = {'batchnorm_frozen': bn, 'output_frozen': output, 'others_frozen': everything - bn - output}
    for flag, names in expected.items():
        with torch.device('meta'):
            frozen_model = registry.get(hparams(name, **{flag: True}))
        assert {n for n, p in frozen_model.named_parameters() if not p.requires_grad} == names, flag
    with torch.device('meta'):
        all_frozen = registry.get(hparams(name, batchnorm_frozen=True, output_frozen=True, others_frozen=True))
    assert not any(p.requires_grad for p in all_frozen.parameters())


def test_explicit_seed_gives_the_global_seed_weights():
    """registry.get(seed=0) draws in a forked RNG seeded with 0: the same weights as manual_seed(0) + seed=None."""
    golden = MODELS['cifar_resnet_20']['seed0_init_stats']
    before = torch.get_rng_state()
    state = registry.get(hparams('cifar_resnet_20'), seed=0).state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    for key in ('conv.weight', 'bn.weight', 'fc.weight', 'fc.bias'):
        assert state[key].flatten()[:3].tolist() == pytest.approx(golden[key]['first3'], rel=1e-5, abs=1e-7)
