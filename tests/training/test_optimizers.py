"""Optimizers and lr schedules against the golden values recorded on the original."""

import pytest
import torch

from foundations.hparams import HparamsError, TrainingHparams
from training import optimizers
from tests.conftest import load_golden

GOLDEN = load_golden('steps.json')


def parse_hparams(text):
    """`Hparams(lr=0.1, optimizer_name='sgd', ...)` -> TrainingHparams."""
    fields = eval('dict(' + text[len('Hparams('):-1] + ')')  # noqa: S307 - trusted golden file
    return TrainingHparams(**fields)


@pytest.mark.parametrize('case', GOLDEN['optimizers'], ids=lambda c: c['hparams'])
def test_optimizers(case):
    model = torch.nn.Linear(3, 2)
    hparams = parse_hparams(case['hparams'])
    if 'error' in case:
        with pytest.raises(ValueError, match=case['error'].split(': ', 1)[1]):
            optimizers.get_optimizer(hparams, model)
        with pytest.raises(HparamsError, match='argument --optimizer_name'):
            optimizers.validate(hparams)
        return
    optimizer = optimizers.get_optimizer(hparams, model)
    assert type(optimizer).__name__ == case['optimizer']
    group = optimizer.param_groups[0]
    for key, value in case['param_group'].items():
        assert group[key] == (tuple(value) if isinstance(value, list) else value), key


@pytest.mark.parametrize('case', GOLDEN['lr_schedule']['cases'], ids=lambda c: c['hparams'])
def test_lr_schedule_exact(case):
    text = case['hparams']
    if text.startswith('cifar_resnet_20'):
        hparams = TrainingHparams('sgd', 0.1, '160ep', milestone_steps='80ep,120ep', gamma=0.1)
    elif 'warmup 5ep' in text:
        hparams = TrainingHparams('sgd', 0.4, '90ep', warmup_steps='5ep', milestone_steps='30ep,60ep,80ep', gamma=0.1)
    else:
        hparams = TrainingHparams('sgd', 0.1, '1ep', warmup_steps='100it')
    model = torch.nn.Linear(2, 1)
    optimizer = optimizers.get_optimizer(hparams, model)
    schedule = optimizers.get_lr_schedule(hparams, optimizer, case['iterations_per_epoch'])
    targets = {int(k): v for k, v in case['lr_at_iteration'].items()}
    for it in range(max(targets) + 1):
        if it in targets:
            assert optimizer.param_groups[0]['lr'] == targets[it], it  # exact, as the original computes it
        optimizer.step()
        schedule.step()


def test_pinned_schedules():
    """The original's test_lr_scheduler values (lr 0.1, 10 iterations per epoch)."""
    hparams = TrainingHparams('sgd', 0.1, '10ep', milestone_steps='2ep,4ep,7ep,8ep', gamma=0.1)
    f = optimizers.lr_multiplier(hparams, 10)
    assert [0.1 * f(i) for i in (0, 19, 20, 39, 40, 70, 80, 99)] == pytest.approx(
        [0.1, 0.1, 1e-2, 1e-2, 1e-3, 1e-4, 1e-5, 1e-5])
    f = optimizers.lr_multiplier(TrainingHparams('sgd', 0.1, '10ep', warmup_steps='20it'), 10)
    assert [0.1 * f(i) for i in range(25)] == pytest.approx([i / 20 * 0.1 for i in range(20)] + [0.1] * 5)
    assert optimizers.lr_multiplier(TrainingHparams('sgd', 0.1, '1ep', warmup_steps='0it'), 10)(0) == 1


def test_gamma_without_milestones():
    with pytest.raises(ValueError, match=GOLDEN['lr_schedule']['gamma_without_milestones'].split(': ', 1)[1]):
        optimizers.lr_multiplier(TrainingHparams('sgd', 0.1, '1ep', gamma=0.1), 10)
    with pytest.raises(HparamsError, match='--milestone_steps and --gamma'):
        optimizers.validate(TrainingHparams('sgd', 0.1, '1ep', gamma=0.1))
