"""Checkpoints: exact restore of model, optimizer and logger, and files saved from a `module.`-prefixed wrapper."""

import torch

from foundations import paths
from foundations.hparams import ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry
from training import checkpointing, optimizers
from training.metric_logger import MetricLogger

MODEL = ModelHparams('cifar_resnet_8_2', 'kaiming_normal', 'uniform')
TRAINING = TrainingHparams('sgd', 0.1, '1ep', momentum=0.9, weight_decay=1e-4)


def one_step(model, optimizer):
    optimizer.zero_grad()
    model.loss_criterion(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()


def test_restore_is_exact(platform, tmp_path):
    model = registry.get(MODEL, seed=1)
    optimizer = optimizers.get_optimizer(TRAINING, model)
    one_step(model, optimizer)
    logger = MetricLogger()
    logger.add('test_accuracy', Step(13, 400), 0.25)
    step = Step.from_epoch(13, 27, 400)
    checkpointing.save_checkpoint_callback(str(tmp_path), step, model, optimizer, logger, platform=platform)

    fresh = registry.get(MODEL, seed=2)
    fresh_optimizer = optimizers.get_optimizer(TRAINING, fresh)
    assert not any(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items()
                   if k in model.prunable_layer_names)
    restored_step, restored_logger = checkpointing.restore_checkpoint(str(tmp_path), fresh, fresh_optimizer, 400)
    assert restored_step == step and str(restored_logger) == str(logger)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())
    for p, q in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(optimizer.state[p]['momentum_buffer'], fresh_optimizer.state[q]['momentum_buffer'])
    assert checkpointing.restore_checkpoint(str(tmp_path / 'none'), fresh, fresh_optimizer, 400) == (None, None)


def test_module_prefixed_files_load(platform, tmp_path):
    """DataParallel/DDP checkpoints of the original carry `module.`: both the model files and checkpoints load."""
    model = registry.get(MODEL, seed=1)
    prefixed = {f'module.{k}': v for k, v in model.state_dict().items()}
    torch.save(prefixed, paths.model(str(tmp_path), Step(0, 1)))
    loaded = registry.load(str(tmp_path), Step(0, 1), MODEL, seed=5)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())

    optimizer = optimizers.get_optimizer(TRAINING, model)
    torch.save({'ep': 1, 'it': 2, 'model_state_dict': prefixed, 'optimizer_state_dict': optimizer.state_dict(),
                'logger': ''}, paths.checkpoint(str(tmp_path)))
    fresh = registry.get(MODEL, seed=3)
    step, _ = checkpointing.restore_checkpoint(str(tmp_path), fresh, optimizers.get_optimizer(TRAINING, fresh), 10)
    assert (step.ep, step.it) == (1, 2)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())
