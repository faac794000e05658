"""The GPU fast path: fused optimizers (equal to the default implementation), no host synchronisation inside the
training loop, and concurrent replicates and --compile on a GPU (the CUDA tests run on a GPU machine only)."""

import pytest
import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from models import registry as models_registry
from platforms.local import Platform
from training import concurrent, optimizers, train

MODEL = ModelHparams('mnist_lenet_32_16', 'kaiming_normal', 'uniform')
DATASET = DatasetHparams('mnist', 128, subsample_fraction=0.05)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


@pytest.mark.parametrize('hparams', [
    TrainingHparams('sgd', 0.1, '1ep', momentum=0.9, weight_decay=1e-4),
    TrainingHparams('sgd', 0.1, '1ep', nesterov_momentum=0.9),
    TrainingHparams('adam', 0.001, '1ep', weight_decay=1e-4),
], ids=['sgd', 'nesterov', 'adam'])
def test_fused_optimizers_equal_the_default_ones(hparams, monkeypatch):
    assert optimizers.implementation(torch.nn.Linear(2, 2).parameters()) == {}  # The CPU keeps the default.
    results = []
    for fast in ({}, {'fused': True}):
        monkeypatch.setattr(optimizers, 'implementation', lambda parameters, fast=fast: fast)
        model = models_registry.get(MODEL, seed=0)
        optimizer = optimizers.get_optimizer(hparams, model)
        assert optimizer.param_groups[0]['fused'] == (True if fast else None)
        generator = torch.Generator().manual_seed(0)
        for _ in range(10):
            x, y = torch.randn(32, 1, 28, 28, generator=generator), torch.randint(0, 10, (32,), generator=generator)
            optimizer.zero_grad()
            model.loss_criterion(model(x), y).backward()
            optimizer.step()
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert (results[0] - results[1]).abs().max().item() < 1e-5


@pytest.fixture
def cuda_platform(results_root, dataset_root):
    return Platform(_root=results_root, _dataset_root=dataset_root, _allow_download=False)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize('fp16', [False, True])
def test_no_host_synchronisation_inside_the_training_loop(cuda_platform, tmp_path, fp16):
    hparams = TrainingHparams('sgd', 0.1, '20it', data_order_seed=0, momentum=0.9, apex_fp16=fp16)
    model = models_registry.get(MODEL, seed=0)
    loader = datasets_registry.get(DATASET, train=True, platform=cuda_platform)
    modes = []

    def watch(output_location, step, model, optimizer, logger):
        """From step 1 (after the epoch's shuffle) to the end, any synchronising call (.item(), ...) raises."""
        torch.cuda.set_sync_debug_mode(0)
        torch.cuda.synchronize()
        modes.append(step.iteration)
        if step.iteration == 1:
            torch.cuda.set_sync_debug_mode('error')

    def watch_then_stop(output_location, step, model, optimizer, logger):
        if step.iteration in (1, 20):
            watch(output_location, step, model, optimizer, logger)
    try:
        train.train(hparams, model, loader, str(tmp_path / 'run'), platform=cuda_platform,
                    callbacks=[watch_then_stop])
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert modes == [1, 20]
    assert optimizers.get_optimizer(hparams, model).param_groups[0]['fused'] is True


@pytest.mark.cuda
@cuda
def test_concurrent_replicates_on_cuda_equal_sequential_ones(cuda_platform, tmp_path):
    hparams = TrainingHparams('sgd', 0.1, '30it', data_order_seed=0)
    loader = datasets_registry.get(DATASET, train=True, platform=cuda_platform)
    sequential = [models_registry.get(MODEL, seed=r) for r in (1, 2, 3)]
    for r, model in zip((1, 2, 3), sequential):
        train.train(hparams, model, loader, str(tmp_path / f's{r}'), platform=cuda_platform)
    together = [models_registry.get(MODEL, seed=r) for r in (1, 2, 3)]
    concurrent.train_concurrently(hparams, together, loader, [str(tmp_path / f'c{r}') for r in (1, 2, 3)],
                                  platform=cuda_platform)
    for a, b in zip(sequential, together):
        assert max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters())) < 1e-4


@pytest.mark.cuda
@cuda
def test_compile_on_cuda_equals_eager(cuda_platform, tmp_path):
    hparams = TrainingHparams('sgd', 0.1, '30it', data_order_seed=0)
    loader = datasets_registry.get(DATASET, train=True, platform=cuda_platform)
    compiling = Platform(_root=cuda_platform.root, _dataset_root=cuda_platform.dataset_root, _allow_download=False,
                         compile=True)
    models = []
    for platform, name in ((cuda_platform, 'eager'), (compiling, 'compiled')):
        models.append(models_registry.get(MODEL, seed=1))
        train.train(hparams, models[-1], loader, str(tmp_path / name), platform=platform)
    assert max((p - q).abs().max().item() for p, q in zip(*(m.parameters() for m in models))) < 1e-4
