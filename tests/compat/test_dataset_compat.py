"""Datasets the original's way: the built-in classes' static methods and instance behaviour, the registry's
original signatures, and a user's dataset class registered and trained through `train` with the same result as
the same data written today's way."""

import numpy as np
import pytest
import torch

from datasets import base, cifar10, classic, imagenet, mnist, registry
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
from models import registry as models_registry
from platforms import local
from platforms.platform import get_platform
from tests.compat import toy_datasets as toy
from training import train

MODEL = ModelHparams('mnist_lenet_20', 'kaiming_normal', 'uniform')
TRAINING = TrainingHparams('sgd', 0.1, '2ep', data_order_seed=0)


@pytest.fixture
def toys(monkeypatch):
    """The toy dataset registered four ways."""
    monkeypatch.setitem(registry.registered_datasets, 'toy', toy)  # The module, as the original registers them.
    monkeypatch.setitem(registry.registered_datasets, 'toy_today', toy.todays_module())
    monkeypatch.setitem(registry.registered_datasets, 'toy_features', toy.FeatureDataset)
    monkeypatch.setitem(registry.registered_datasets, 'toy_lazy', toy.LazyDataset)


def test_mnist_class_static_methods_and_items():
    assert (mnist.Dataset.num_train_examples(), mnist.Dataset.num_test_examples(), mnist.Dataset.num_classes()) == \
        (60000, 10000, 10)
    train_set, test_set = mnist.Dataset.get_train_set(use_augmentation=True), mnist.Dataset.get_test_set()
    assert (len(train_set), len(test_set)) == (60000, 10000)
    assert isinstance(train_set, base.ImageDataset) and isinstance(train_set._labels, np.ndarray)
    assert tuple(train_set._examples.shape) == (60000, 28, 28) and train_set._examples.dtype == torch.uint8
    image, label = train_set[0]
    assert tuple(image.shape) == (1, 28, 28) and label == 5
    expected = (train_set._examples[0].float() / 255 - 0.1307) / 0.3081
    assert torch.allclose(image[0], expected, atol=1e-6)


def test_cifar10_class_with_augmentation(cifar_platform):
    def build():
        return cifar10.Dataset.get_train_set(True), cifar10.Dataset.get_test_set()
    with_platform = []
    cifar_platform.run_job(lambda: with_platform.extend(build()))
    train_set, test_set = with_platform
    assert (len(train_set), len(test_set)) == (50000, 500)
    assert [type(t).__name__ for t in train_set._image_transforms] == ['RandomHorizontalFlip', 'RandomCrop']
    assert test_set._image_transforms == [] and train_set._examples.shape == (50000, 32, 32, 3)
    assert tuple(test_set[3][0].shape) == (3, 32, 32)
    fast = classic.in_memory_version(train_set)  # Served by the batched loader, augmenting the same way.
    assert fast.augment and fast.crop_padding == 4 and fast.mean == cifar10.MEAN


def test_imagenet_class_reads_the_folder_tree(tmp_path):
    from tests.datasets.conftest import write_imagenet
    write_imagenet(str(tmp_path / 'imagenet'), {'train': 2, 'val': 1})
    platform = local.Platform(_imagenet_root=str(tmp_path / 'imagenet'), _device='cpu')
    splits = []
    platform.run_job(lambda: splits.extend([imagenet.Dataset.get_train_set(False), imagenet.Dataset.get_test_set()]))
    train_set, test_set = splits
    assert (len(train_set), len(test_set)) == (6, 3) and imagenet.Dataset.num_classes() == 1000
    assert train_set._labels.tolist() == [0, 0, 1, 1, 2, 2]
    image, label = test_set[2]
    assert tuple(image.shape) == (3, 224, 224) and label == 2
    assert classic.in_memory_version(train_set) is None  # File paths: served by the original's DataLoader.


def test_instance_transformations_follow_the_original_streams():
    images, labels = toy.toy_images(100, seed=3)
    dataset = toy.Dataset(images, labels)
    dataset.randomize_labels(seed=7, fraction=0.5)
    positions, new = base.random_labels(100, 4, 7, 0.5)
    assert np.array_equal(dataset._labels[positions], new)
    dataset.subsample(seed=7, fraction=0.3)
    keep = base.subsample_indices(100, 7, 0.3)
    assert len(dataset) == 30 and np.array_equal(dataset._examples, images[keep])
    with pytest.raises(ValueError, match='Cannot subsample more than once.'):
        dataset.subsample(seed=7, fraction=0.3)
    dataset.unsupervised_rotation(seed=2)
    assert np.array_equal(dataset._labels, base.rotation_labels(30, 2))
    image, label = dataset[0]  # Exactly label x 90 degrees counter-clockwise (DECISIONS.md).
    plain = torch.from_numpy(np.rot90(dataset._examples[0], k=int(label)).copy()).float() / 255
    assert torch.allclose(image[0], (plain - 0.25) / 0.2, atol=1e-6)
    blurred = toy.Dataset(images, labels)
    blurred.blur(2)
    assert tuple(blurred[0][0].shape) == (1, 28, 28)
    assert not torch.equal(blurred[0][0], toy.Dataset(images, labels)[0][0])
    with pytest.raises(ValueError, match='Different number of examples'):
        toy.Dataset(images, labels[:5])


def test_samplers_and_data_loader():
    sampler = base.ShuffleSampler(10)
    assert list(sampler) == list(range(10))
    sampler.shuffle_dataorder(3)
    assert list(sampler) == torch.randperm(10, generator=torch.Generator().manual_seed(3)).tolist()
    loader = base.DataLoader(toy.Dataset(*toy.toy_images(50, 0)), batch_size=16, num_workers=0)
    assert (loader.iterations_per_epoch, len(loader)) == (4, 4)
    assert [len(y) for _, y in loader] == [16, 16, 16, 2]


def test_registry_original_signatures(toys):
    hparams = DatasetHparams('toy', 32, subsample_fraction=0.5)
    assert registry.iterations_per_epoch(hparams) == 4 and registry.num_classes(hparams) == 4
    assert registry.num_classes(DatasetHparams('toy', 32, unsupervised_labels='rotation')) == 4
    train_loader, test_loader = registry.get(hparams), registry.get(hparams, False)  # Positional train flag.
    assert isinstance(train_loader, base.Loader) and train_loader.iterations_per_epoch == 4
    assert sum(len(y) for _, y in test_loader) == toy.NUM_TEST
    with pytest.raises(TypeError, match='platform='):
        registry.get(hparams, get_platform())


def train_toy(name, folder, platform=None):
    """Train LeNet on a registered toy dataset through `train`, the original's way (no platform: the job's) or
    today's (an explicit platform)."""
    hparams = DatasetHparams(name, 32)
    kwargs = {} if platform is None else {'platform': platform}
    loader = registry.get(hparams, True, **kwargs)
    model = models_registry.get(MODEL, outputs=4, seed=0)
    train.train(TRAINING, model, loader, folder, **kwargs)
    return type(loader).__name__, model.state_dict()


def in_job(platform, function, *args):
    result = []
    platform.run_job(lambda: result.append(function(*args)))
    return result[0]


def test_an_original_style_dataset_trains_like_todays(toys, tmp_path, platform):
    kind, original = in_job(platform, train_toy, 'toy', str(tmp_path / 'original'))
    today_kind, today = train_toy('toy_today', str(tmp_path / 'today'), platform)
    assert (kind, today_kind) == ('Loader', 'Loader')  # The batched in-memory loader, both ways.
    for name, tensor in original.items():
        assert torch.equal(tensor, today[name]), name
    for dataset, expected_kind in (('toy_features', 'TensorLoader'), ('toy_lazy', 'DataLoader')):
        kind, weights = in_job(platform, train_toy, dataset, str(tmp_path / dataset))
        assert kind == expected_kind
        assert all(torch.equal(tensor, today[name]) for name, tensor in weights.items()), dataset


def test_an_original_style_dataset_runs_from_the_command_line(toys, capsys):
    from tests.conftest import run_cli
    argv = ['train', '--dataset_name=toy', '--batch_size=30', '--model_name=mnist_lenet_20',
            '--model_init=kaiming_normal', '--batchnorm_init=uniform', '--optimizer_name=sgd', '--lr=0.1',
            '--training_steps=3ep', '--data_order_seed=0']
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    accuracies = [float(line.split('acc ')[1].split('%')[0]) for line in out.splitlines() if line.startswith('test\t')]
    assert len(accuracies) == 4 and accuracies[-1] > 90  # The bright row makes the toy task easy.
