"""The training loop: how often callbacks run, which lr they see, resuming and reproducibility (as the original's)."""

import os

import pytest
import torch

from datasets import registry as datasets_registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry as models_registry
from training import train
from training.metric_logger import MetricLogger
from training.standard_callbacks import standard_callbacks

DATASET = DatasetHparams('mnist', 50, do_not_augment=True, subsample_fraction=0.01)  # 600 examples, 12 it/ep
TRAINING = TrainingHparams('sgd', 0.1, '3ep', data_order_seed=0, warmup_steps='10it', gamma=0.1,
                           milestone_steps='2ep')
MODEL = ModelHparams('mnist_lenet_10_10', 'kaiming_normal', 'uniform')


@pytest.fixture
def loader(platform):
    return datasets_registry.get(DATASET, train=True, platform=platform)


class Recorder:
    def __init__(self):
        self.calls = 0
        self.last_step = None
        self.last_lr = None

    def __call__(self, output_location, step, model, optimizer, logger):
        self.calls += 1
        self.last_step = (step.ep, step.it)
        self.last_lr = optimizer.param_groups[0]['lr']


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize('start, end, calls, last, lr', [
    (None, (0, 0), 0, None, None),
    (None, (0, 2), 3, (0, 2), 0.02),
    (None, (1, 0), 13, (1, 0), 0.1),
    (None, (2, 1), 26, (2, 1), 0.01),
    (None, None, 37, (3, 0), 0.01),
    ((0, 5), (0, 5), 0, None, None),
    ((0, 5), (0, 6), 2, (0, 6), 0.06),
    ((0, 5), (1, 5), 13, (1, 5), 0.1),
    ((0, 5), (2, 5), 25, (2, 5), 0.01),
    ((0, 5), None, 32, (3, 0), 0.01),
    ((1, 5), None, 20, (3, 0), 0.01),
])
def test_callback_counts_and_lr(platform, loader, tmp_path, start, end, calls, last, lr):
    model = models_registry.get(MODEL, seed=1)
    before = state(model)
    recorder = Recorder()
    ipe = loader.iterations_per_epoch
    assert ipe == 12
    train.train(TRAINING, model, loader, str(tmp_path), [recorder],
                start_step=Step.from_epoch(*start, ipe) if start else None,
                end_step=Step.from_epoch(*end, ipe) if end else None, platform=platform)
    assert recorder.calls == calls
    assert recorder.last_step == last
    if lr is not None:
        assert recorder.last_lr == pytest.approx(lr)
    changed = [not torch.equal(before[k], v) for k, v in model.state_dict().items()]
    assert all(changed) if calls > 1 else not any(changed)


def test_data_order_seed_reproduces_weights(platform, loader, tmp_path):
    def run(seed, end, folder):
        model = models_registry.get(MODEL, seed=1)
        hparams = TrainingHparams('sgd', 0.1, '3ep', data_order_seed=seed)
        train.train(hparams, model, loader, str(tmp_path / folder), [], end_step=Step(end, 12), platform=platform)
        return state(model)

    a, b = run(0, 20, 'a'), run(0, 20, 'b')
    assert all(torch.equal(a[k], b[k]) for k in a)
    c, d = run(None, 20, 'c'), run(None, 20, 'd')
    assert not all(torch.equal(c[k], d[k]) for k in c)
    e = run(0, 21, 'e')
    assert not all(torch.equal(a[k], e[k]) for k in a)


def test_standard_callbacks_end_to_end(platform, loader, tmp_path):
    test_loader = datasets_registry.get(DATASET, train=False, platform=platform)
    model = models_registry.get(MODEL, seed=2)
    initial = state(model)
    callbacks = standard_callbacks(TRAINING, loader, test_loader, eval_on_train=True, verbose=False, platform=platform)
    train.train(TRAINING, model, loader, str(tmp_path), callbacks, platform=platform)

    saved_start = torch.load(tmp_path / 'model_ep0_it0.pth')
    saved_end = torch.load(tmp_path / 'model_ep3_it0.pth')
    assert all(torch.equal(saved_start[k], initial[k]) for k in initial)
    assert all(torch.equal(saved_end[k], v) for k, v in model.state_dict().items())
    logger = MetricLogger.create_from_file(str(tmp_path))
    for name in ('train_loss', 'test_loss', 'train_accuracy', 'test_accuracy'):
        assert [it for it, _ in logger.get_data(name)] == [0, 12, 24, 36]
    assert logger.get_data('test_examples')[0] == (0, 10000.0)
    assert logger.get_data('train_examples')[0] == (0, 600.0)
    assert os.path.exists(tmp_path / 'checkpoint.pth')


def test_first_step_writes_start_model_and_checkpoint_only(platform, loader, tmp_path):
    test_loader = datasets_registry.get(DATASET, train=False, platform=platform)
    model = models_registry.get(MODEL, seed=2)
    initial = state(model)
    callbacks = standard_callbacks(TRAINING, loader, test_loader, verbose=False, platform=platform)
    train.train(TRAINING, model, loader, str(tmp_path), callbacks, end_step=Step(1, 12), platform=platform)
    assert all(torch.equal(torch.load(tmp_path / 'model_ep0_it0.pth')[k], initial[k]) for k in initial)
    assert os.path.exists(tmp_path / 'checkpoint.pth')
    assert not os.path.exists(tmp_path / 'logger')


def test_resume_from_checkpoint(platform, loader, tmp_path):
    """Train to (1, 1); a second call restores the (1, 0) checkpoint, so an extra callback fires exactly twice."""
    test_loader = datasets_registry.get(DATASET, train=False, platform=platform)
    model = models_registry.get(MODEL, seed=2)
    callbacks = standard_callbacks(TRAINING, loader, test_loader, verbose=False, platform=platform)
    end = Step.from_epoch(1, 1, 12)
    train.train(TRAINING, model, loader, str(tmp_path), callbacks, end_step=end, platform=platform)
    recorder = Recorder()
    train.train(TRAINING, models_registry.get(MODEL, seed=3), loader, str(tmp_path),
                callbacks + [recorder], end_step=end, platform=platform)
    assert recorder.calls == 2


def test_resumed_run_equals_uninterrupted(platform, loader, tmp_path):
    """Stopping mid-epoch and resuming from the checkpoint gives bit-identical weights and logger."""
    test_loader = datasets_registry.get(DATASET, train=False, platform=platform)
    hparams = TrainingHparams('sgd', 0.1, '2ep', data_order_seed=7, momentum=0.9)

    def callbacks():
        return standard_callbacks(hparams, loader, test_loader, verbose=False, platform=platform)

    whole = models_registry.get(MODEL, seed=4)
    train.train(hparams, whole, loader, str(tmp_path / 'whole'), callbacks(), platform=platform)

    part = models_registry.get(MODEL, seed=4)
    train.train(hparams, part, loader, str(tmp_path / 'part'), callbacks(), end_step=Step(17, 12), platform=platform)
    resumed = models_registry.get(MODEL, seed=99)  # Different weights: everything must come from the checkpoint.
    train.train(hparams, resumed, loader, str(tmp_path / 'part'), callbacks(), platform=platform)

    assert all(torch.equal(whole.state_dict()[k], v) for k, v in resumed.state_dict().items())
    assert (tmp_path / 'whole' / 'logger').read_text() == (tmp_path / 'part' / 'logger').read_text()
