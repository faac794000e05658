"""The pruning strategies beyond sparse_global inside `lottery`: masks computed from the level's starting weights
(the rewind point times the current mask), exact counts, determinism, hashes of their own flags only, bad input."""

import hashlib
import os

import pytest
import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams
from lottery.runner import PRUNING_DATA_SEED
from models import registry
from pruning import magnitude_init, snip
from pruning.mask import Mask
from tests.conftest import run_cli
from tests.lottery.test_runner import TINY, level_dir, load, location, run_ok

POOL = 784 * 20 + 20 * 10  # LeNet 20-10 without the ignored output layer.


def lenet_with(state):
    model = registry.get(ModelHparams('mnist_lenet_20_10', 'kaiming_normal', 'uniform'), seed=0)
    model.load_state_dict(state)
    return model


def starting_model(level0, step_file, mask):
    model = lenet_with(load(os.path.join(level0, step_file)))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in mask:
                parameter.mul_(mask[name])
    return model


@pytest.mark.parametrize('extra, start_file', [([], 'model_ep0_it0.pth'), (['--rewinding_steps=2it'], 'model_ep0_it2.pth')])
def test_magnitude_init_prunes_the_rewind_point_times_the_mask(extra, start_file, capsys):
    argv = ['lottery'] + TINY + ['--training_steps=3it', '--levels=2', '--pruning_strategy=magnitude_init',
                                 '--pruning_layers_to_ignore=fc.weight'] + extra
    level0 = location(capsys, argv)
    run_ok(argv, capsys)
    hparams = magnitude_init.PruningHparams('magnitude_init', 0.2, 'fc.weight')
    mask, expected = Mask.load(level0), POOL
    for level in (1, 2):
        recomputed = magnitude_init.Strategy.prune(hparams, None, mask,
                                                   starting_model=starting_model(level0, start_file, mask))
        saved = Mask.load(level_dir(level0, level))
        assert all(torch.equal(saved[k], recomputed[k].int()) for k in saved)
        expected -= -(-expected // 5)  # ceil(0.2 x survivors)
        assert int(saved['fc_layers.0.weight'].sum() + saved['fc_layers.1.weight'].sum()) == expected
        assert int(saved['fc.weight'].sum()) == 100
        mask = saved
    assert expected == 10163  # floor(0.8 x floor(0.8 x 15880))


def test_snip_uses_the_fixed_pruning_batches_and_repeats_exactly(capsys, platform, results_root, monkeypatch):
    argv = ['lottery'] + TINY + ['--training_steps=3it', '--levels=1', '--pruning_strategy=snip',
                                 '--pruning_batches=2']
    level0 = location(capsys, argv)
    run_ok(argv, capsys)
    saved = Mask.load(level_dir(level0, 1))

    loader = datasets_registry.get(DatasetHparams('mnist', 60, subsample_fraction=0.01), platform=platform)
    loader.shuffle(PRUNING_DATA_SEED)
    recomputed = snip.Strategy.prune(snip.PruningHparams('snip', pruning_batches=2), None, None,
                                     starting_model=starting_model(level0, 'model_ep0_it0.pth', Mask.load(level0)),
                                     data=loader)
    assert all(torch.equal(saved[k], recomputed[k].int()) for k in saved)
    assert sum(int(v.sum()) for v in saved.values()) == 15980 - 3196  # fc pruned too: no ignore flag given

    monkeypatch.setenv('OPEN_LTH_ROOT', results_root + '_again')  # A second run, from scratch elsewhere.
    level0_again = location(capsys, argv)
    run_ok(argv, capsys)
    again = Mask.load(level_dir(level0_again, 1))
    assert level0_again != level0 and all(torch.equal(saved[k], again[k]) for k in saved)


@pytest.mark.parametrize('flags, canonical', [
    (['--pruning_strategy=sparse_layerwise'], "Hparams(pruning_strategy='sparse_layerwise')"),
    (['--pruning_strategy=snip', '--pruning_batches=4'], "Hparams(pruning_batches=4, pruning_strategy='snip')"),
    (['--pruning_strategy=synflow', '--pruning_layers_to_ignore=fc.weight'],
     "Hparams(pruning_layers_to_ignore='fc.weight', pruning_strategy='synflow')"),
    (['--pruning_strategy=grasp', '--pruning_fraction=0.5'], "Hparams(pruning_fraction=0.5, pruning_strategy='grasp')"),
    (['--pruning_strategy=random', '--pruning_seed=3'], "Hparams(pruning_seed=3, pruning_strategy='random')"),
    (['--pruning_strategy=magnitude_init', '--pruning_fraction=0.2'], "Hparams(pruning_strategy='magnitude_init')"),
])
def test_each_strategy_hashes_only_its_own_flags(flags, canonical, capsys, results_root):
    argv = ['lottery', '--default_hparams=mnist_lenet_300_100', '--levels=1'] + flags
    preset = ("Hparams(batch_size=128, dataset_name='mnist');Hparams(batchnorm_init='uniform', "
              "model_init='kaiming_normal', model_name='mnist_lenet_300_100');")
    training = ";Hparams(lr=0.1, optimizer_name='sgd', training_steps='40ep')"
    md5 = hashlib.md5((preset + canonical + training).encode()).hexdigest()
    assert location(capsys, argv) == os.path.join(results_root, f'lottery_{md5}', 'replicate_1', 'level_0', 'main')


def test_sparse_global_folder_is_unchanged(capsys, results_root):
    argv = ['lottery', '--default_hparams=mnist_lenet_300_100', '--levels=1']
    assert location(capsys, argv) == os.path.join(results_root, 'lottery_184ace1d6901ace6854b0a595cbd6b27',
                                                  'replicate_1', 'level_0', 'main')


MNIST = ['lottery', '--default_hparams=mnist_lenet_300_100']
BAD = [(['--levels=1'] + f, m) for f, m in [
    (['--pruning_strategy=snipp'], "argument --pruning_strategy: no pruning strategy 'snipp'; choose from: "
                                   "sparse_global, sparse_layerwise, random, magnitude_init, snip, grasp, synflow"),
    (['--pruning_strategy=snip', '--pruning_batches=0'], 'argument --pruning_batches: must be an integer >= 1, got 0'),
    (['--pruning_strategy=grasp', '--pruning_batches=-2'],
     'argument --pruning_batches: must be an integer >= 1, got -2'),
    (['--pruning_strategy=synflow', '--synflow_iterations=0'],
     'argument --synflow_iterations: must be an integer >= 1, got 0'),
    (['--pruning_strategy=sparse_layerwise', '--pruning_fraction=1'],
     'argument --pruning_fraction: must be a fraction in [0, 1), got 1.0'),
    (['--pruning_strategy=magnitude_init', '--pruning_fraction=-0.1'],
     'argument --pruning_fraction: must be a fraction in [0, 1), got -0.1'),
    (['--pruning_strategy=random', '--pruning_layers_to_ignore=c.weight'],
     "argument --pruning_layers_to_ignore: 'c.weight' is not a prunable tensor of this model; choose from: "
     "fc_layers.0.weight, fc_layers.1.weight, fc.weight"),
    (['--pruning_strategy=snip', '--pruning_layers_to_ignore=fc_layers.0.weight,fc_layers.1.weight,fc.weight'],
     'argument --pruning_layers_to_ignore: every prunable tensor is ignored, so nothing can be pruned'),
]]


LEVELS = [  # Checked when a run starts (Strategy.check_levels), not for --display_output_location.
    (['--pruning_strategy=snip', '--pruning_fraction=0.9', '--levels=7'],  # 266200 -> 26620 -> ... -> 2 -> 0
     'arguments --levels/--pruning_fraction: no prunable weight is left after level 6 (each level removes '
     'ceil(0.9 x remaining) of the weights not in --pruning_layers_to_ignore), so level 7 cannot prune; use '
     '--levels=6 or a smaller --pruning_fraction'),
    (['--pruning_strategy=sparse_layerwise', '--pruning_fraction=0.5', '--levels=20'],  # 235200 halved 18 times
     'no prunable weight is left after level 18'),
]
CASES = [(f, m, False) for f, m in BAD + LEVELS] + [(f, m, True) for f, m in BAD]


@pytest.mark.parametrize('flags, message, display', CASES,
                         ids=[' '.join(f) + (' display' if d else '') for f, _, d in CASES])
def test_bad_input_is_one_line_exit_2_no_folder(flags, message, display, capsys, results_root):
    """Also with --display_output_location, except the levels check."""
    status, out, err = run_cli(MNIST + flags + (['--display_output_location'] if display else []), capsys)
    assert status == 2 and out == '' and 'Traceback' not in err
    assert err.startswith('open_lth.py: error: ') and message in err and err.count('\n') == 1
    assert not os.path.exists(results_root)
