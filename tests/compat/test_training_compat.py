"""Training and callbacks called with the original's signatures (platform from the running job) give the same
files as today's calls with an explicit platform."""

import os

import torch

from datasets import registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from foundations.step import Step
from models import registry as models_registry
from training import checkpointing, standard_callbacks, train
from training.metric_logger import MetricLogger

DATASET = DatasetHparams('mnist', 60, subsample_fraction=0.01)  # 10 iterations per epoch.
MODEL = ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform')
TRAINING = TrainingHparams('sgd', 0.1, '2ep', data_order_seed=0, momentum=0.9)


def files(folder):
    """{file name: content}: tensors for .pth files (checkpoint: its model and optimizer), text otherwise."""
    result = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name == 'checkpoint.pth':
            checkpoint = torch.load(path, weights_only=True)
            result[name] = (checkpoint['ep'], checkpoint['it'], checkpoint['model_state_dict'], checkpoint['logger'])
        elif name.endswith('.pth'):
            result[name] = torch.load(path, weights_only=True)
        else:
            with open(path) as f:
                result[name] = f.read()
    return result


def assert_same_files(a, b):
    fa, fb = files(a), files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        assert str(fa[name]) == str(fb[name]) if isinstance(fa[name], str) else _equal(fa[name], fb[name]), name


def _equal(x, y):
    if isinstance(x, torch.Tensor):
        return torch.equal(x, y)
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(_equal(u, v) for u, v in zip(x, y))
    return x == y


def test_standard_callbacks_with_the_original_signature(platform, tmp_path):
    def original_way():  # As the original's code runs inside a job: no platform anywhere.
        train_loader, test_loader = registry.get(DATASET), registry.get(DATASET, False)
        callbacks = standard_callbacks.standard_callbacks(TRAINING, train_loader, test_loader, True, False)
        train.train(TRAINING, models_registry.get(MODEL, seed=1), train_loader, str(tmp_path / 'original'),
                    callbacks)
    platform.run_job(original_way)

    train_loader = registry.get(DATASET, platform=platform)
    test_loader = registry.get(DATASET, train=False, platform=platform)
    callbacks = standard_callbacks.standard_callbacks(TRAINING, train_loader, test_loader, eval_on_train=True,
                                                      verbose=False, platform=platform)
    train.train(TRAINING, models_registry.get(MODEL, seed=1), train_loader, str(tmp_path / 'today'), callbacks,
                platform=platform)
    assert_same_files(tmp_path / 'original', tmp_path / 'today')
    logger = MetricLogger.create_from_file(str(tmp_path / 'original'))
    assert [it for it, _ in logger.get_data('train_accuracy')] == [0, 10, 20]


def test_callbacks_built_from_the_module_functions(platform, tmp_path, capsys):
    """A custom list written with the original's functions and wrappers, with start and end steps."""
    train_loader = registry.get(DATASET, platform=platform)
    test_loader = registry.get(DATASET, False, platform=platform)
    start, end = Step.from_iteration(5, 10), Step.from_iteration(17, 10)
    calls = []

    def counting(output_location, step, model, optimizer, logger):
        calls.append(step.iteration)

    def original_way():
        callbacks = [
            standard_callbacks.run_every_step(counting),
            standard_callbacks.run_at_step(start, standard_callbacks.save_model),
            standard_callbacks.run_every_epoch(standard_callbacks.create_eval_callback('test', test_loader)),
            standard_callbacks.run_every_epoch(checkpointing.save_checkpoint_callback),
            standard_callbacks.run_every_epoch(standard_callbacks.create_timekeeper_callback()),
            standard_callbacks.run_at_step(end, standard_callbacks.save_model),
            standard_callbacks.run_at_step(end, standard_callbacks.save_logger),
        ]
        train.train(TRAINING, models_registry.get(MODEL, seed=2), train_loader, str(tmp_path / 'original'),
                    callbacks, start, end)
    platform.run_job(original_way)
    assert calls == list(range(5, 18))
    assert capsys.readouterr().out.splitlines()[0].startswith('Ep 1\tIt 0\tTime Elapsed 0.00')

    callbacks = [
        standard_callbacks.run_at_step(start, standard_callbacks.with_platform(standard_callbacks.save_model,
                                                                               platform)),
        standard_callbacks.run_every_epoch(standard_callbacks.create_eval_callback('test', test_loader,
                                                                                   platform=platform)),
        standard_callbacks.run_every_epoch(checkpointing.checkpoint_saver(platform)),
        standard_callbacks.run_at_step(end, standard_callbacks.with_platform(standard_callbacks.save_model,
                                                                             platform)),
        standard_callbacks.run_at_step(end, standard_callbacks.with_platform(standard_callbacks.save_logger,
                                                                             platform)),
    ]
    train.train(TRAINING, models_registry.get(MODEL, seed=2), train_loader, str(tmp_path / 'today'), callbacks,
                start_step=start, end_step=end, platform=platform)
    assert_same_files(tmp_path / 'original', tmp_path / 'today')
    assert sorted(os.listdir(tmp_path / 'today')) == ['checkpoint.pth', 'logger', 'model_ep0_it5.pth',
                                                      'model_ep1_it7.pth']


def test_save_checkpoint_callback_is_the_callback_itself(platform, tmp_path):
    model = models_registry.get(MODEL, seed=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    logger = MetricLogger()
    logger.add('test_accuracy', Step.from_iteration(10, 10), 0.5)
    platform.run_job(lambda: checkpointing.save_checkpoint_callback(str(tmp_path), Step.from_iteration(10, 10),
                                                                    model, optimizer, logger))
    checkpoint = torch.load(tmp_path / 'checkpoint.pth', weights_only=True)
    assert (checkpoint['ep'], checkpoint['it'], checkpoint['logger']) == (1, 0, 'test_accuracy,10,0.5')


def test_standard_train_with_the_original_signature(platform, tmp_path):
    start = Step.from_iteration(3, 10)

    def original_way():
        trained = train.standard_train(models_registry.get(MODEL, seed=4), str(tmp_path / 'original'), DATASET,
                                       TRAINING, start, False, False)
        assert trained
    platform.run_job(original_way)
    assert train.standard_train(models_registry.get(MODEL, seed=4), str(tmp_path / 'today'), DATASET, TRAINING,
                                start_step=start, verbose=False, evaluate_every_epoch=False, platform=platform)
    assert_same_files(tmp_path / 'original', tmp_path / 'today')
    assert 'model_ep2_it0.pth' in os.listdir(tmp_path / 'original')
    assert not train.standard_train(models_registry.get(MODEL, seed=4), str(tmp_path / 'today'), DATASET, TRAINING,
                                    platform=platform)  # Already done.


def test_a_loader_without_our_extras_trains(platform, tmp_path):
    """Any iterable with `iterations_per_epoch` and `shuffle` works, batches on the CPU (the original's contract)."""
    ours = registry.get(DATASET, platform=platform)

    class PlainLoader:
        iterations_per_epoch = ours.iterations_per_epoch

        def shuffle(self, seed):
            ours.shuffle(seed)

        def __iter__(self):
            return ((x.cpu(), y.cpu()) for x, y in ours)

    a, b = models_registry.get(MODEL, seed=5), models_registry.get(MODEL, seed=5)
    train.train(TRAINING, a, PlainLoader(), str(tmp_path / 'plain'), end_step=Step.from_iteration(13, 10),
                platform=platform)
    train.train(TRAINING, b, ours, str(tmp_path / 'ours'), end_step=Step.from_iteration(13, 10), platform=platform)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_a_parallel_platform_wraps_the_model_in_the_original_data_parallel(tmp_path):
    from platforms import local
    from models import base

    class ParallelPlatform(local.Platform):
        @property
        def is_parallel(self):
            return True

        @property
        def device_str(self):
            return 'cpu'

    wrapped = []
    platform = ParallelPlatform()
    loader = registry.get(DATASET, platform=platform)
    train.train(TRAINING, models_registry.get(MODEL, seed=6), loader, str(tmp_path),
                [lambda output_location, step, model, optimizer, logger: wrapped.append(type(model))],
                end_step=Step.from_iteration(2, 10), platform=platform)
    assert wrapped == [base.DataParallel] * 3
