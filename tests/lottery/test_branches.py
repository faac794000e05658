"""Branches on a tiny trunk: random pruning, reinitialisation and retraining, and their folders."""

import os

import pytest
import torch

from pruning.mask import Mask
from tests.conftest import run_cli
from tests.lottery.test_runner import TINY, level_dir, load, location, run_ok

TRUNK = ['--training_steps=3it']


@pytest.fixture
def trunk(capsys):
    """A 3-level lottery trunk; returns its level_0/main folder."""
    argv = ['lottery'] + TINY + TRUNK + ['--levels=2']
    run_ok(argv, capsys)
    return location(capsys, argv)


def branch(capsys, name, *args):
    argv = ['lottery_branch', name] + TINY + TRUNK + list(args)
    run_ok(argv, capsys)
    return run_ok(argv + ['--display_output_location'], capsys).split()


def counts(mask):
    return {k: int(v.sum()) for k, v in mask.items()}


def test_randomly_prune_layerwise_keeps_each_layers_density(trunk, capsys):
    folders = branch(capsys, 'randomly_prune', '--levels=0-2', '--seed=1')
    assert [os.path.basename(os.path.dirname(f)) for f in folders] == ['level_0', 'level_1', 'level_2']
    assert all(os.path.basename(f) == 'lottery_branch_randomly_prune_b903ce3209007ffb6278b2163d9db26f'
               for f in folders)
    rewind_point = load(os.path.join(trunk, 'model_ep0_it0.pth'))
    for level, folder in enumerate(folders):
        trunk_mask, mask = Mask.load(level_dir(trunk, level)), Mask.load(folder)
        assert counts(mask) == counts(trunk_mask)
        if level > 0:
            assert not torch.equal(mask['fc_layers.0.weight'], trunk_mask['fc_layers.0.weight'])
        start = load(os.path.join(folder, 'model_ep0_it0.pth'))
        for k, v in start.items():  # The dense rewind point times the random mask (a fix; README.md).
            assert torch.equal(v, rewind_point[k] * mask[k] if k in mask else rewind_point[k])
        assert os.path.exists(os.path.join(folder, 'model_ep0_it3.pth'))
        assert os.path.exists(os.path.join(folder, 'sparsity_report.json'))


@pytest.mark.parametrize('strategy', ['global', 'even', 'identity'])
def test_randomly_prune_strategies(trunk, capsys, strategy):
    folder = branch(capsys, 'randomly_prune', '--level=2', '--seed=3', f'--strategy={strategy}')[0]
    trunk_mask, mask = Mask.load(level_dir(trunk, 2)), Mask.load(folder)
    assert sum(counts(mask).values()) == pytest.approx(sum(counts(trunk_mask).values()), abs=2)
    if strategy == 'identity':
        assert counts(mask) == counts(trunk_mask) and all(torch.equal(mask[k], trunk_mask[k]) for k in mask)
    if strategy == 'even':
        density = float(trunk_mask.density)
        for k, v in mask.items():
            assert float(v.float().mean()) == pytest.approx(density, abs=0.01)


def test_randomly_prune_layers_to_ignore_and_start_points(trunk, capsys):
    folder = branch(capsys, 'randomly_prune', '--levels=2', '--seed=1', '--layers_to_ignore=fc_layers.1.weight',
                    '--start_at=end')[0]
    mask = Mask.load(folder)
    assert int(mask['fc_layers.1.weight'].sum()) == mask['fc_layers.1.weight'].numel()
    trained = load(os.path.join(level_dir(trunk, 2), 'model_ep0_it3.pth'))
    start = load(os.path.join(folder, 'model_ep0_it0.pth'))
    assert torch.equal(start['fc_layers.0.weight'], trained['fc_layers.0.weight'] * mask['fc_layers.0.weight'])


def test_randomly_reinitialize(trunk, capsys, tmp_path, monkeypatch):
    folders = branch(capsys, 'randomly_reinitialize', '--levels=1,2')
    assert [os.path.basename(f) for f in folders] == \
        ['lottery_branch_randomly_reinitialize_7b99794732481fff503d5290ee43fb4b'] * 2
    rewind_point = load(os.path.join(trunk, 'model_ep0_it0.pth'))
    for level, folder in zip((1, 2), folders):
        assert all(torch.equal(v, Mask.load(level_dir(trunk, level))[k]) for k, v in Mask.load(folder).items())
        start = load(os.path.join(folder, 'model_ep0_it0.pth'))
        assert not torch.equal(start['fc_layers.0.weight'], load(
            os.path.join(level_dir(trunk, level), 'model_ep0_it0.pth'))['fc_layers.0.weight'])
        assert not torch.equal(start['fc.bias'], rewind_point['fc.bias'])
    seeded = branch(capsys, 'randomly_reinitialize', '--levels=1', '--seed=5')[0]
    assert os.path.basename(seeded) != os.path.basename(folders[0])
    first = load(os.path.join(seeded, 'model_ep0_it0.pth'))
    # The same seed gives the same initialisation: rerun in a fresh root.
    monkeypatch.setenv('OPEN_LTH_ROOT', str(tmp_path / 'again'))
    run_ok(['lottery'] + TINY + TRUNK + ['--levels=1'], capsys)
    again = branch(capsys, 'randomly_reinitialize', '--levels=1', '--seed=5')[0]
    assert all(torch.equal(v, first[k]) for k, v in load(os.path.join(again, 'model_ep0_it0.pth')).items())


def test_retrain(trunk, capsys):
    folder = branch(capsys, 'retrain', '--levels=1', '--retrain_d_dataset_name=mnist', '--retrain_d_batch_size=30',
                    '--retrain_d_subsample_fraction=0.01', '--retrain_t_optimizer_name=adam',
                    '--retrain_t_lr=0.001', '--retrain_t_training_steps=4it')[0]
    assert not os.path.exists(os.path.join(folder, 'mask.pth'))
    start = load(os.path.join(folder, 'model_ep0_it0.pth'))
    trunk_start = load(os.path.join(level_dir(trunk, 1), 'model_ep0_it0.pth'))
    assert all(torch.equal(v, trunk_start[k]) for k, v in start.items())
    assert os.path.exists(os.path.join(folder, 'model_ep0_it4.pth'))
    logger = open(os.path.join(folder, 'logger')).read().splitlines()
    assert logger[-1] == 'test_examples,4,10000.0'


def test_branch_banner_and_chooser_position(trunk, capsys):
    argv = ['lottery_branch'] + [a for a in TINY if a != '--quiet'] + TRUNK + ['--levels=0', 'randomly_prune',
                                                                                '--seed=2']
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[:3] == ['=' * 82, 'Branch randomly_prune (Replicate 1, Level 0)', '-' * 82]
    assert 'Branch Arguments\n    * seed => 2\n    * strategy => layerwise\n    * start_at => rewind\nOutput Location: ' \
        in out
    status, out, err = run_cli(argv, capsys)  # A rerun trains nothing and says so.
    assert status == 0 and 'Already done: ' in out and '\ttime ' not in out
