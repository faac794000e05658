"""Concurrent replicates (training/concurrent.py) against the same replicates trained one after another.

In float32 the vectorised kernels round differently from the single-model ones (about 1e-7 per step) and, as between
two machines, a ReLU that changes side can grow that over hundreds of steps; so the long comparison runs in float64,
where the only differences are float64 rounding, and the whole-command comparison runs a few float32 steps.
"""

import os

import pytest
import torch

from datasets import registry as datasets_registry
from foundations import seeds
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry as models_registry
from pruning.mask import Mask
from pruning.pruned_model import PrunedModel
from tests.conftest import run_cli
from training import checkpointing, concurrent, standard_callbacks, train

DATASET = DatasetHparams('mnist', 64, do_not_augment=True, subsample_fraction=0.02)  # 1,200 examples, 19 it/ep
MODEL = ModelHparams('mnist_lenet_32_16', 'kaiming_normal', 'uniform')


class Float64Loader:
    """A loader whose batches are float64 (for float64 models); shuffles and batches as the loader it wraps."""

    def __init__(self, loader):
        self.loader = loader
        self.iterations_per_epoch = loader.iterations_per_epoch
        self.global_batch_size = loader.global_batch_size

    def shuffle(self, seed):
        self.loader.shuffle(seed)

    def batches(self, start=0):
        for it, (x, y) in self.loader.batches(start):
            yield it, (x.double(), y)


def replicate_model(replicate, mask_seed=None):
    """Replicate `replicate`'s seeded LeNet in float64; pruned at random (half the weights) when mask_seed is set."""
    model = models_registry.get(MODEL, seed=seeds.model_init_seed(replicate)).double()
    if mask_seed is None:
        return model
    generator = torch.Generator().manual_seed(mask_seed)
    mask = Mask({name: (torch.rand(p.shape, generator=generator) < 0.5).float()
                 for name, p in model.named_parameters() if name in model.prunable_layer_names})
    return PrunedModel(model, mask)


def saving_callbacks(platform, end):
    """Checkpoint every epoch and save the model at the end (two of the standard callbacks)."""
    return [standard_callbacks.run_every_epoch(checkpointing.checkpoint_saver(platform)),
            standard_callbacks.run_at_step(end, standard_callbacks.with_platform(standard_callbacks.save_model,
                                                                                 platform))]


def max_difference(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize('optimizer, epochs', [('sgd', 16), ('adam', 4)])  # 304 and 76 iterations
def test_replicates_equal_sequential_runs_over_hundreds_of_steps(platform, tmp_path, optimizer, epochs):
    lr = 0.1 if optimizer == 'sgd' else 0.003
    training = TrainingHparams(optimizer, lr, f'{epochs}ep', data_order_seed=4, weight_decay=1e-4,
                               momentum=0.9 if optimizer == 'sgd' else 0, milestone_steps='3ep', gamma=0.1)
    loader = Float64Loader(datasets_registry.get(DATASET, train=True, platform=platform))
    replicates = [1, 2, 3]
    sequential = [replicate_model(r, mask_seed=r if r != 2 else None) for r in replicates]
    end = Step.from_str(f'{epochs}ep', loader.iterations_per_epoch)
    for r, model in zip(replicates, sequential):
        train.train(training, model, loader, str(tmp_path / f'seq{r}'), platform=platform,
                    callbacks=saving_callbacks(platform, end))
    together = [replicate_model(r, mask_seed=r if r != 2 else None) for r in replicates]
    concurrent.train_concurrently(training, together, loader, [str(tmp_path / f'con{r}') for r in replicates],
                                  callbacks=[saving_callbacks(platform, end) for _ in replicates], platform=platform)
    for r, a, b in zip(replicates, sequential, together):
        assert max_difference(a, b) < 1e-5
        assert max_difference(a, replicate_model(r, mask_seed=r if r != 2 else None)) > 0.01  # They did train.
    saved = torch.load(str(tmp_path / 'con1' / f'model_ep{epochs}_it0.pth'), weights_only=True)
    mask = together[0].state_dict()['mask_fc_layers___0___weight']
    assert (saved['fc_layers.0.weight'][mask == 0] == 0).all() and (saved['fc_layers.0.weight'][mask == 1] != 0).all()
    checkpoint = torch.load(str(tmp_path / 'con2' / 'checkpoint.pth'), weights_only=True)
    reference = torch.load(str(tmp_path / 'seq2' / 'checkpoint.pth'), weights_only=True)
    assert (checkpoint['ep'], checkpoint['it']) == (reference['ep'], reference['it']) == (epochs, 0)
    assert checkpoint['optimizer_state_dict']['param_groups'] == reference['optimizer_state_dict']['param_groups']
    for index, entry in reference['optimizer_state_dict']['state'].items():
        for key, value in entry.items():
            assert torch.allclose(checkpoint['optimizer_state_dict']['state'][index][key], value, atol=1e-5)
    sizes = [os.path.getsize(tmp_path / run / 'checkpoint.pth') for run in ('con2', 'seq2')]
    assert sizes[0] < 1.1 * sizes[1]  # The replica's own state, not the stacked tensors it was sliced from.


def test_replicates_resume_from_checkpoints_at_different_steps(platform, tmp_path):
    training = TrainingHparams('sgd', 0.1, '3ep', data_order_seed=7, momentum=0.9)
    loader = Float64Loader(datasets_registry.get(DATASET, train=True, platform=platform))
    references = [replicate_model(r) for r in (1, 2)]
    for r, model in zip((1, 2), references):
        train.train(training, model, loader, str(tmp_path / f'seq{r}'), platform=platform)
    partial = replicate_model(1)  # Replicate 1 was interrupted after its first epoch (checkpoint at ep 1).
    train.train(training, partial, loader, str(tmp_path / 'con1'), platform=platform,
                callbacks=[checkpointing.checkpoint_saver(platform)], end_step=Step.from_epoch(1, 0, 19))
    together = [replicate_model(r) for r in (1, 2)]
    concurrent.train_concurrently(training, together, loader, [str(tmp_path / f'con{r}') for r in (1, 2)],
                                  platform=platform)
    for a, b in zip(references, together):
        assert max_difference(a, b) < 1e-9


def test_batchnorm_replicates_keep_their_own_running_statistics(cifar_platform, tmp_path):
    """cifar_resnet_8 (BatchNorm, convolutions, channels_last) with augmentation, in float64."""
    dataset = DatasetHparams('cifar10', 16, subsample_fraction=0.001)  # 50 examples, 4 it/ep
    training = TrainingHparams('sgd', 0.05, '2ep', data_order_seed=1, momentum=0.9, weight_decay=1e-4)
    model_hparams = ModelHparams('cifar_resnet_8', 'kaiming_normal', 'uniform')
    loader = Float64Loader(datasets_registry.get(dataset, train=True, platform=cifar_platform))

    def model(replicate):
        return models_registry.get(model_hparams, seed=seeds.model_init_seed(replicate)).double()
    sequential = [model(r) for r in (1, 2)]
    for r, m in zip((1, 2), sequential):
        train.train(training, m, loader, str(tmp_path / f'seq{r}'), platform=cifar_platform)
    together = [model(r) for r in (1, 2)]
    concurrent.train_concurrently(training, together, loader, [str(tmp_path / f'con{r}') for r in (1, 2)],
                                  platform=cifar_platform)
    for a, b in zip(sequential, together):
        assert max_difference(a, b) < 1e-9  # Weights and BatchNorm buffers (running statistics, batch counts).
        assert b.state_dict()['bn.num_batches_tracked'].item() == 8
    assert max_difference(together[0], together[1]) > 0.01


LOTTERY = ['lottery', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.02', '--training_steps=20it',
           '--levels=1', '--data_order_seed=3', '--quiet']


def read_logger(location):
    rows = [line.split(',') for line in open(os.path.join(location, 'logger')).read().splitlines()]
    return [(name, int(it), float(value)) for name, it, value in rows]


def test_concurrent_lottery_command_writes_what_sequential_runs_write(capsys, results_root, monkeypatch, tmp_path):
    status, _, err = run_cli(LOTTERY + ['--replicates=1-2', '--concurrent'], capsys)
    assert status == 0, err
    monkeypatch.setenv('OPEN_LTH_ROOT', str(tmp_path / 'sequential'))
    status, _, err = run_cli(LOTTERY + ['--replicates=1-2'], capsys)
    assert status == 0, err

    def files(root):
        return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
    assert files(results_root) == files(str(tmp_path / 'sequential'))
    assert len([f for f in files(results_root) if f.endswith('logger')]) == 4
    for path in files(results_root):
        ours, theirs = os.path.join(results_root, path), os.path.join(str(tmp_path / 'sequential'), path)
        if path.endswith('logger'):
            a, b = read_logger(os.path.dirname(ours)), read_logger(os.path.dirname(theirs))
            assert [(n, i) for n, i, _ in a] == [(n, i) for n, i, _ in b]
            assert all(abs(x - y) < 1e-5 for (_, _, x), (_, _, y) in zip(a, b)), path
        elif path.endswith('.pth'):  # Masks, models and checkpoints (pruned weights included) agree.
            x, y = torch.load(ours, weights_only=True), torch.load(theirs, weights_only=True)
            if 'model_state_dict' in y:
                assert (x['ep'], x['it']) == (y['ep'], y['it'])
                x, y = x['model_state_dict'], y['model_state_dict']
            assert sorted(x) == sorted(y), path
            assert all(torch.allclose(x[k], y[k], rtol=0, atol=1e-5) for k in y), path
        else:
            assert open(ours).read() == open(theirs).read(), path


def test_concurrent_replicates_draw_their_own_data_order(capsys, results_root):
    argv = ['train', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.02', '--training_steps=5it',
            '--replicates=1,3', '--concurrent', '--quiet']
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    status, out, _ = run_cli(argv + ['--display_output_location'], capsys)
    locations = out.split()
    assert [os.path.basename(os.path.dirname(p)) for p in locations] == ['replicate_1', 'replicate_3']
    losses = [read_logger(p)[-3][2] for p in locations]
    assert losses[0] != losses[1]


def test_concurrent_replicates_write_tensorboard_events(capsys, results_root):
    pytest.importorskip('tensorboard')
    argv = ['train', '--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_20_10',
            '--subsample_fraction=0.01', '--batch_size=60', '--training_steps=1ep', '--replicates=1-2', '--concurrent',
            '--tensorboard', '--quiet']
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    for location in run_cli(argv + ['--display_output_location'], capsys)[1].split():
        assert any(name.startswith('events.out.tfevents.') for name in os.listdir(location))


def test_concurrent_branches_are_refused(capsys, results_root):
    status, _, err = run_cli(['lottery_branch', 'randomly_reinitialize', '--default_hparams=mnist_lenet_300_100',
                              '--levels=0', '--replicates=1-2', '--concurrent'], capsys)
    assert status == 2 and err.startswith('open_lth.py: error: argument --concurrent: only train and lottery')


def test_concurrent_is_refused_on_slurm(capsys, results_root):
    pytest.importorskip('submitit')
    status, _, err = run_cli(['train', '--default_hparams=mnist_lenet_300_100', '--replicates=1-2', '--concurrent',
                              '--platform=slurm', '--slurm_executor=local'], capsys)
    assert status == 2 and err.startswith('open_lth.py: error: argument --concurrent: replicates train together on')
    assert not os.path.exists(results_root)
