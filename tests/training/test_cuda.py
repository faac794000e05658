"""Checks that need a CUDA device (run by scripts/gpu_check.sh on a GPU machine; skipped elsewhere)."""

import pytest
import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry as models_registry
from platforms.local import Platform
from pruning.mask import Mask
from pruning.pruned_model import PrunedModel
from training import checkpointing, precision, train
from training.standard_callbacks import evaluate, run_every_epoch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')]

DATASET = DatasetHparams('mnist', 128, subsample_fraction=0.1)
MODEL = ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform')


@pytest.fixture
def cuda_platform(results_root, dataset_root):
    return Platform(_root=results_root, _dataset_root=dataset_root, _allow_download=False)


def test_default_device_is_cuda_and_batches_live_there(cuda_platform):
    assert cuda_platform.torch_device.type == 'cuda'
    loader = datasets_registry.get(DATASET, platform=cuda_platform)
    x, y = next(iter(loader))
    assert x.is_cuda and y.is_cuda and x.dtype == torch.float32


@pytest.mark.parametrize('fp16', [False, True])
def test_training_on_cuda_with_and_without_fp16(cuda_platform, tmp_path, fp16):
    hparams = TrainingHparams('sgd', 0.1, '1ep', data_order_seed=0, apex_fp16=fp16)
    precision.validate(hparams, cuda_platform.torch_device)
    loader = datasets_registry.get(DATASET, platform=cuda_platform)
    model = models_registry.get(MODEL, seed=0)
    mask = Mask.ones_like(model)
    mask['fc_layers.0.weight'][:, ::2] = 0
    pruned = PrunedModel(model, mask)
    train.train(hparams, pruned, loader, str(tmp_path), end_step=Step(40, 47), platform=cuda_platform)
    assert next(pruned.parameters()).is_cuda
    loss, accuracy, count = evaluate(pruned, datasets_registry.get(DATASET, train=False, platform=cuda_platform),
                                     cuda_platform)
    assert count == 10000 and accuracy > 0.8 and loss == loss
    assert model.fc_layers[0].weight[:, ::2].abs().sum().item() == 0


def test_fp16_checkpoint_keeps_the_loss_scale(cuda_platform, tmp_path):
    hparams = TrainingHparams('sgd', 0.1, '2ep', data_order_seed=0, apex_fp16=True)
    loader = datasets_registry.get(DATASET, platform=cuda_platform)
    callbacks = [run_every_epoch(checkpointing.checkpoint_saver(cuda_platform))]
    train.train(hparams, models_registry.get(MODEL, seed=0), loader, str(tmp_path), callbacks,
                end_step=Step(48, 47), platform=cuda_platform)
    checkpoint = torch.load(tmp_path / 'checkpoint.pth', weights_only=True)
    assert 'scaler_state_dict' in checkpoint and checkpoint['scaler_state_dict']['scale'] > 0
