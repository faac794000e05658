"""Runners, descs, argument helpers and model classes used the original's way."""

import argparse
import os
import sys

import pytest
import torch

from cli import arg_utils
from foundations.hparams import ModelHparams
from lottery.desc import LotteryDesc
from lottery.runner import LotteryRunner
from models import registry as models_registry
from platforms import local
from training.desc import TrainingDesc
from training.runner import TrainingRunner

ARGV = ['open_lth.py', 'lottery', '--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_20_10',
        '--subsample_fraction=0.01', '--batch_size=60', '--data_order_seed=0', '--training_steps=3it', '--levels=1',
        '--quiet']


def parse(runner_class, monkeypatch):
    """add_args(parser) / create_from_args(args) without argv or platform, reading sys.argv as the original."""
    monkeypatch.setattr(sys, 'argv', ARGV)
    parser = argparse.ArgumentParser(conflict_handler='resolve')
    parser.add_argument('subcommand')
    runner_class.add_args(parser)
    return runner_class.create_from_args(parser.parse_args(ARGV[1:]))


def test_maybe_get_arg_reads_sys_argv(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ARGV)
    assert arg_utils.maybe_get_arg('subcommand', positional=True) == 'lottery'
    assert arg_utils.maybe_get_arg('model_name') == 'mnist_lenet_20_10'
    assert arg_utils.maybe_get_arg('quiet', boolean_arg=True) is True
    assert arg_utils.maybe_get_arg('pretrain', False, 0, True) is False
    assert arg_utils.maybe_get_arg('levels', argv=['x', '--levels=4']) == '4'  # Today's explicit argv.


def test_lottery_runner_the_original_way_matches_todays(monkeypatch, platform, tmp_path):
    runner = parse(LotteryRunner, monkeypatch)
    assert (runner.replicate, runner.levels, runner.verbose, runner.evaluate_every_epoch, runner.platform) == \
        (1, 1, False, True, None)
    platform.run_job(runner.run)  # The platform comes from the job.
    level1 = runner.desc.run_path(1, 1, root=platform.root)
    seen = []
    platform.run_job(lambda: seen.append(runner.desc.run_path(1, 1)))  # Without root=: the job's root.
    assert seen == [level1] and os.path.exists(os.path.join(level1, 'model_ep0_it3.pth'))

    other = local.Platform(_root=str(tmp_path / 'today'), _dataset_root=platform.dataset_root, _device='cpu',
                           _allow_download=False)
    today = LotteryRunner(replicate=1, levels=1, desc=runner.desc, platform=other, verbose=False,
                          evaluate_every_epoch=True)
    today.run()  # Today's way: explicit platform, no job.
    for level in (0, 1):
        ours = runner.desc.run_path(replicate=1, pruning_level=level, root=other.root)
        theirs = runner.desc.run_path(1, level, root=platform.root)
        with open(os.path.join(ours, 'logger')) as a, open(os.path.join(theirs, 'logger')) as b:
            assert a.read() == b.read()
        end_a, end_b = (torch.load(os.path.join(f, 'model_ep0_it3.pth'), weights_only=True) for f in (ours, theirs))
        assert all(torch.equal(end_a[k], end_b[k]) for k in end_a)


def test_training_runner_positional_and_run_path(platform, capsys):
    preset = models_registry.get_default_hparams('mnist_lenet_300_100')
    desc = TrainingDesc(ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform'), preset.dataset_hparams,
                        preset.training_hparams)
    runner = TrainingRunner(3, desc, False, False)
    assert (runner.verbose, runner.evaluate_every_epoch, runner.platform) == (False, False, None)
    platform.run_job(runner.display_output_location)
    assert capsys.readouterr().out.strip() == desc.run_path(3, root=platform.root) == \
        os.path.join(platform.root, desc.hashname, 'replicate_3', 'main')
    assert desc.run_path(3, 'other', root='/r') == f'/r/{desc.hashname}/replicate_3/other'


def test_lottery_desc_run_path_rejects_bad_replicates():
    preset = models_registry.get_default_hparams('mnist_lenet_300_100')
    assert preset.run_path(1, 'pretrain', root='/r').endswith('/replicate_1/level_pretrain/main')
    from foundations.hparams import HparamsError
    with pytest.raises(HparamsError, match='replicate'):
        preset.run_path(0, 1)


def test_lottery_desc_add_args_with_the_original_signature(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ARGV)
    parser = argparse.ArgumentParser()
    LotteryDesc.add_args(parser, models_registry.get_default_hparams('mnist_lenet_300_100'))
    args = parser.parse_args(ARGV[3:-2])
    assert (args.pruning_strategy, args.pruning_fraction, args.model_name) == ('sparse_global', 0.2,
                                                                               'mnist_lenet_20_10')


def test_model_classes_the_original_exposes():
    from models import base, cifar_resnet, cifar_vgg
    from pruning.pruned_model import PrunedModel
    from pruning.mask import Mask
    assert cifar_resnet.Model.Block(16, 32, True).conv1.stride == (2, 2)
    assert cifar_vgg.Model.ConvModule(3, 64).conv.out_channels == 64
    assert PrunedModel.to_mask_name('blocks.0.conv1.weight') == 'mask_blocks___0___conv1___weight'
    model = models_registry.get(ModelHparams('mnist_lenet_20', 'kaiming_normal', 'uniform'), seed=0)
    parallel = base.DataParallel(model)
    assert isinstance(parallel, base.Model) and parallel.prunable_layer_names == model.prunable_layer_names
    assert parallel.output_layer_names == ['fc.weight', 'fc.bias']
    assert torch.equal(parallel(torch.ones(2, 1, 28, 28)), model(torch.ones(2, 1, 28, 28)))
    pruned = PrunedModel(model, Mask.ones_like(model))
    assert hasattr(pruned, PrunedModel.to_mask_name('fc.weight'))
    assert issubclass(base.DistributedDataParallel, torch.nn.parallel.DistributedDataParallel)
