"""The convolutional families end to end on a fake CIFAR-10 in the real on-disk format (tiny subsamples)."""

import os

import pytest
import torch

from tests.conftest import run_cli

# 50,000 x 0.002 = 100 training images in batches of 50: 2 iterations per epoch; the fake test set has 500 images.
TINY_CIFAR = ['--subsample_fraction=0.002', '--batch_size=50', '--data_order_seed=0', '--quiet']


@pytest.fixture
def fake_cifar(monkeypatch, cifar_root):
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', cifar_root)


def run_ok(argv, capsys):
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    return run_cli(argv + ['--display_output_location'], capsys)[1].strip()


@pytest.mark.parametrize('model', ['cifar_resnet_20', 'cifar_vgg_11'])
def test_two_epochs_of_train(model, fake_cifar, capsys):
    location = run_ok(['train', f'--default_hparams={model}', '--training_steps=2ep'] + TINY_CIFAR, capsys)
    assert sorted(os.listdir(location)) == ['checkpoint.pth', 'hparams.json', 'hparams.log', 'logger',
                                            'model_ep0_it0.pth', 'model_ep2_it0.pth']
    logger = open(os.path.join(location, 'logger')).read().splitlines()
    assert [line.rsplit(',', 1)[0] for line in logger[2::3]] == ['test_examples,0', 'test_examples,2',
                                                                  'test_examples,4']
    assert logger[-1] == 'test_examples,4,500.0'
    start, end = (torch.load(os.path.join(location, f), weights_only=True)
                  for f in ('model_ep0_it0.pth', 'model_ep2_it0.pth'))
    assert not torch.equal(start['fc.weight'], end['fc.weight'])


def test_lottery_one_level_of_cifar_resnet_20(fake_cifar, capsys):
    level0 = run_ok(['lottery', '--default_hparams=cifar_resnet_20', '--training_steps=1ep', '--levels=1']
                    + TINY_CIFAR, capsys)
    level1 = level0.replace('level_0', 'level_1')
    report = open(os.path.join(level1, 'sparsity_report.json')).read()
    assert report == '{\n    "total": 270896.0,\n    "unpruned": 216715.0\n}'  # 54,181 pruned, fc included
    assert os.path.exists(os.path.join(level1, 'model_ep1_it0.pth'))


def test_batchnorm_only_training_changes_only_batchnorm(fake_cifar, capsys):
    """Frankle et al. 2020, "Training BatchNorm and Only BatchNorm": with everything else frozen, 5 SGD steps
    (momentum and weight decay included) change BatchNorm tensors and nothing else."""
    location = run_ok(['train', '--default_hparams=cifar_resnet_20', '--others_frozen', '--output_frozen',
                       '--training_steps=5it'] + TINY_CIFAR, capsys)
    start, end = (torch.load(os.path.join(location, f), weights_only=True)
                  for f in ('model_ep0_it0.pth', 'model_ep2_it1.pth'))
    changed = {k for k in start if not torch.equal(start[k], end[k])}
    batchnorm = {k for k in start if k.startswith('bn.') or '.bn' in k or 'shortcut.1' in k}
    assert changed and changed <= batchnorm
    assert {k for k in changed if k.endswith('.weight') or k.endswith('.bias')} == \
        {k for k in batchnorm if k.endswith('.weight') or k.endswith('.bias')}
