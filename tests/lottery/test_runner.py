"""The lottery workflow end to end on (a slice of) the embedded MNIST: levels, masks, rewinding, pretraining."""

import math
import os

import pytest
import torch

from pruning.mask import Mask
from tests.conftest import run_cli

# 600 training examples in batches of 60: 10 iterations per epoch; LeNet 20-10 (15,980 prunable weights, fc ignored).
TINY = ['--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_20_10', '--subsample_fraction=0.01',
        '--batch_size=60', '--data_order_seed=0', '--quiet']


def run_ok(argv, capsys):
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    return out


def location(capsys, argv):
    return run_ok(argv + ['--display_output_location'], capsys).strip()


def level_dir(level0, level):
    return level0.replace('level_0', f'level_{level}')


def load(path):
    return torch.load(path, weights_only=True)


def expected_remaining(levels, total=15980):
    """The original's counting rule: each level removes ceil(0.2 x remaining) + 1 weights (no ties)."""
    remaining = [total]
    for _ in range(levels):
        remaining.append(remaining[-1] - (math.ceil(0.2 * remaining[-1]) + 1))
    return remaining


def test_levels_masks_and_rewinding_to_initialisation(capsys):
    argv = ['lottery'] + TINY + ['--training_steps=3it', '--levels=3']
    level0 = location(capsys, argv)
    out = run_ok(argv, capsys)
    assert out == ''  # --quiet

    rewind_point = load(os.path.join(level0, 'model_ep0_it0.pth'))
    previous = None
    for level, remaining in enumerate(expected_remaining(3)):
        folder = level_dir(level0, level)
        assert sorted(os.listdir(folder)) == sorted(
            (['hparams.log'] if level == 0 else []) +
            ['checkpoint.pth', 'hparams.json', 'logger', 'mask.pth', 'model_ep0_it0.pth', 'model_ep0_it3.pth',
             'sparsity_report.json'])
        mask = Mask.load(folder)
        assert sum(int(v.sum()) for v in mask.values()) == remaining
        assert open(os.path.join(folder, 'sparsity_report.json')).read() == \
            f'{{\n    "total": 15980.0,\n    "unpruned": {float(remaining)}\n}}'
        assert float(mask.density) == pytest.approx(0.8 ** level, abs=0.002)
        if previous is not None:
            assert all(bool((mask[k] <= previous[k]).all()) for k in mask)  # Masks only shrink.
        previous = mask

        start = load(os.path.join(folder, 'model_ep0_it0.pth'))
        for k, v in start.items():
            expected = rewind_point[k] * mask[k] if k in mask else rewind_point[k]
            assert torch.equal(v, expected), (level, k)  # Rewind-point weights x mask, bit for bit.
        logger = open(os.path.join(folder, 'logger')).read().splitlines()
        assert [line.rsplit(',', 1)[0] for line in logger] == [
            'test_loss,0', 'test_accuracy,0', 'test_examples,0', 'test_loss,3', 'test_accuracy,3', 'test_examples,3']

    # A rerun finds everything done and trains nothing.
    before = {level: os.path.getmtime(os.path.join(level_dir(level0, level), 'logger')) for level in range(4)}
    out = run_ok([a for a in argv if a != '--quiet'], capsys)
    assert 'Pruning Level' not in out and 'Lottery Ticket Results' in out
    assert 'Already done: every level up to 3 is trained; nothing to train.' in out
    assert before == {level: os.path.getmtime(os.path.join(level_dir(level0, level), 'logger')) for level in range(4)}

    # More levels later: only the new ones run.
    run_ok(argv[:-1] + ['--levels=4'], capsys)
    assert sum(int(v.sum()) for v in Mask.load(level_dir(level0, 4)).values()) == expected_remaining(4)[-1]


def test_rewinding_starts_every_level_from_the_rewind_point(capsys):
    argv = ['lottery'] + TINY + ['--training_steps=1ep2it', '--rewinding_steps=1ep', '--levels=1']
    level0 = location(capsys, argv)
    run_ok(argv, capsys)
    pretrain = level_dir(level0, 'pretrain')
    assert sorted(os.listdir(pretrain)) == ['checkpoint.pth', 'hparams.json', 'logger', 'model_ep0_it0.pth',
                                            'model_ep1_it0.pth']
    rewind_point = load(os.path.join(pretrain, 'model_ep1_it0.pth'))
    assert {k: torch.equal(v, rewind_point[k]) for k, v in load(os.path.join(level0, 'model_ep1_it0.pth')).items()} \
        == {k: True for k in rewind_point}
    level1 = level_dir(level0, 1)
    mask = Mask.load(level1)
    for k, v in load(os.path.join(level1, 'model_ep1_it0.pth')).items():
        assert torch.equal(v, rewind_point[k] * mask[k] if k in mask else rewind_point[k])
    assert os.path.exists(os.path.join(level1, 'model_ep1_it2.pth'))
    logger = open(os.path.join(level1, 'logger')).read().splitlines()
    assert logger[0].startswith('test_loss,10,') and logger[-1].startswith('test_examples,12,')
    text = open(os.path.join(level0, 'hparams.log')).read()
    assert 'Pretraining Training Hyperparameters\n    * optimizer_name => sgd' in text
    assert '    * training_steps => 1ep\n' in text


def test_pretraining_on_rotation_labels_transfers_all_but_the_output_layer(capsys):
    argv = ['lottery'] + TINY + ['--training_steps=5it', '--levels=0', '--pretrain', '--pretrain_training_steps=3it',
                                 '--pretrain_unsupervised_labels=rotation', '--pretrain_subsample_fraction=0.01',
                                 '--pretrain_batch_size=60']
    level0 = location(capsys, argv)
    run_ok(argv, capsys)
    pretrained = load(os.path.join(level_dir(level0, 'pretrain'), 'model_ep0_it3.pth'))
    start = load(os.path.join(level0, 'model_ep0_it3.pth'))
    assert tuple(pretrained['fc.weight'].shape) == (4, 10) and tuple(start['fc.weight'].shape) == (10, 10)
    for k in ('fc_layers.0.weight', 'fc_layers.0.bias', 'fc_layers.1.weight'):
        assert torch.equal(start[k], pretrained[k])


def test_display_and_banner(capsys):
    argv = ['lottery'] + [a for a in TINY if a != '--quiet'] + ['--training_steps=2it', '--levels=1']
    out = run_ok(argv, capsys)
    lines = out.splitlines()
    assert lines[0] == '=' * 82 and lines[1] == 'Lottery Ticket Experiment (Replicate 1)' and lines[2] == '-' * 82
    assert lines[3:6] == ['Dataset Hyperparameters', '    * dataset_name => mnist', '    * batch_size => 60']
    assert '-' * 82 + '\nPruning Level 0\n' + '-' * 82 + '\ntest\tep 000\tit 000\tloss ' in out
    assert '\nPruning Level 1\n' in out
    assert '\tacc ' in out and '%\tex 10000\ttime ' in out
