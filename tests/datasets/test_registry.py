"""datasets/registry.py: iterations per epoch and classes (golden cases of steps.json), the order and composition of
the transformations through DatasetHparams, loaders of MNIST and of a fake full-size CIFAR-10, and missing data."""

import copy

import numpy as np
import pytest
import torch

from datasets import base, cifar10, mnist, registry
from datasets.errors import DatasetUnavailable
from foundations.hparams import DatasetHparams
from tests.conftest import load_golden
from tests.datasets.conftest import FAKE_CIFAR_TEST_SIZE

STEPS = load_golden('steps.json')


def hparams(name='mnist', batch_size=128, **kwargs):
    return DatasetHparams(dataset_name=name, batch_size=batch_size, **kwargs)


# Golden cases -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('case', STEPS['iterations_per_epoch'], ids=lambda c: f"{c['dataset_name']}-{c['batch_size']}-"
                                                                           f"{c['subsample_fraction']}")
def test_iterations_per_epoch_golden(case):
    dataset_hparams = hparams(case['dataset_name'], case['batch_size'], subsample_fraction=case['subsample_fraction'])
    if 'error' in case:  # The original: 'ValueError: No such dataset: svhn'; we name the flag and the choices.
        with pytest.raises(ValueError, match="--dataset_name: unknown dataset 'svhn'; choose from: cifar10, "
                                             "fashion_mnist, imagenet, mnist"):
            registry.iterations_per_epoch(dataset_hparams)
    else:
        assert registry.iterations_per_epoch(dataset_hparams) == case['iterations_per_epoch']


@pytest.mark.parametrize('case', STEPS['num_classes'], ids=lambda c: f"{c['dataset_name']}-{c['unsupervised_labels']}")
def test_num_classes_golden(case):
    dataset_hparams = hparams(case['dataset_name'], unsupervised_labels=case['unsupervised_labels'])
    if 'error' in case:
        with pytest.raises(ValueError, match='^' + case['error'].split(': ', 1)[1] + '$'):
            registry.num_classes(dataset_hparams)
    else:
        assert registry.num_classes(dataset_hparams) == case['num_classes']


def test_fashion_mnist_counts():
    assert registry.iterations_per_epoch(hparams('fashion_mnist', 128)) == 469
    assert registry.num_classes(hparams('fashion_mnist')) == 10
    assert registry.num_classes(hparams('fashion_mnist', unsupervised_labels='rotation')) == 4


def test_registry_and_loader_agree_on_subsampled_epochs():
    """ceil(N x f / B) (the registry) equals ceil(ceil(N x f) / B) (the loader) for every fraction k / 1000."""
    for name in ('mnist', 'cifar10', 'imagenet'):
        for k in range(1, 1001):
            for batch_size in (50, 60, 128, 1024):
                dataset_hparams = hparams(name, batch_size, subsample_fraction=k / 1000)
                examples = registry.num_train_examples(dataset_hparams)
                assert registry.iterations_per_epoch(dataset_hparams) == -(-examples // batch_size)


# MNIST through the registry ---------------------------------------------------------------------------------------

def test_mnist_loaders(platform):
    train = registry.get(hparams('mnist', 128), train=True, platform=platform)
    test = registry.get(hparams('mnist', 128), train=False, platform=platform)
    assert len(train) == train.iterations_per_epoch == 469 == registry.iterations_per_epoch(hparams('mnist', 128))
    assert len(test) == 79
    x, y = next(iter(train))
    assert x.shape == (128, 1, 28, 28) and y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    # MNIST normalisation: mean 0.1307, std 0.3081 of pixels in [0, 1].
    assert torch.allclose(x[0, 0, 0, 0], torch.tensor((0 - 0.1307) / 0.3081))


def test_subsample_tenth_of_mnist(platform):
    dataset_hparams = hparams('mnist', 128, subsample_fraction=0.1)
    loader = registry.get(dataset_hparams, platform=platform)
    assert len(loader.dataset) == 6000
    assert registry.iterations_per_epoch(dataset_hparams) == 47 == len(loader) == len(list(loader))
    assert loader.dataset.labels[:10].tolist() == [3, 2, 7, 8, 2, 3, 5, 2, 8, 9]  # seed None means 0
    test_loader = registry.get(dataset_hparams, train=False, platform=platform)
    assert len(test_loader.dataset) == 10000  # subsampling applies to the training set only


def test_transformation_seed_drives_subsampling(platform):
    loader = registry.get(hparams('mnist', 128, subsample_fraction=0.1, transformation_seed=1), platform=platform)
    assert loader.dataset.labels[:10].tolist() == [2, 1, 5, 0, 6, 0, 8, 9, 5, 5]


def test_random_labels_then_subsample_order(platform):
    dataset_hparams = hparams('mnist', 128, random_labels_fraction=0.5, subsample_fraction=0.1, transformation_seed=3)
    dataset = registry.get_dataset(dataset_hparams, platform)
    expected = mnist.get_train_set(platform, use_augmentation=True)
    expected.randomize_labels(3, 0.5)
    expected.subsample(3, 0.1)
    assert torch.equal(dataset.labels, expected.labels) and torch.equal(dataset.examples, expected.examples)
    again = registry.get_dataset(dataset_hparams, platform)
    assert torch.equal(again.labels, dataset.labels)
    other_seed = registry.get_dataset(hparams('mnist', 128, random_labels_fraction=0.5, subsample_fraction=0.1,
                                              transformation_seed=4), platform)
    assert not torch.equal(other_seed.labels, dataset.labels)


def test_random_labels_only_on_the_training_set(platform):
    dataset_hparams = hparams('mnist', 128, random_labels_fraction=1.0)
    train = registry.get_dataset(dataset_hparams, platform)
    test = registry.get_dataset(dataset_hparams, platform, train=False)
    assert int((train.labels == mnist.get_train_set(platform, True).labels).sum()) < 60000 * 0.2
    assert torch.equal(test.labels, mnist.get_test_set(platform).labels)


def test_rotation_applies_to_both_sets_after_random_labels(platform):
    dataset_hparams = hparams('mnist', 128, unsupervised_labels='rotation', random_labels_fraction=1.0,
                              transformation_seed=2)
    for train, split in ((True, mnist.get_train_set(platform, True)), (False, mnist.get_test_set(platform))):
        dataset = registry.get_dataset(dataset_hparams, platform, train=train)
        expected_labels = np.random.RandomState(2).randint(4, size=len(split))
        assert dataset.labels.tolist() == expected_labels.tolist()  # rotation overwrites the random labels
        assert dataset.num_classes == 4 and set(dataset.labels.tolist()) == {0, 1, 2, 3}
        turned_back = torch.stack([torch.rot90(image, -int(k), dims=(1, 2))
                                   for image, k in zip(dataset.examples[:500], dataset.labels[:500])])
        assert torch.equal(turned_back, split.examples[:500])


def test_blur_applies_to_the_training_set_only(platform):
    dataset_hparams = hparams('mnist', 128, blur_factor=4)
    train = registry.get_dataset(dataset_hparams, platform)
    test = registry.get_dataset(dataset_hparams, platform, train=False)
    plain_train = mnist.get_train_set(platform, True)
    assert torch.equal(train.labels, plain_train.labels)
    assert not torch.equal(train.examples, plain_train.examples)
    assert torch.equal(test.examples, mnist.get_test_set(platform).examples)


def test_blur_then_rotation_compose(platform):
    dataset = registry.get_dataset(hparams('mnist', 128, blur_factor=2, unsupervised_labels='rotation',
                                           subsample_fraction=0.01), platform)
    expected = mnist.get_train_set(platform, True)
    expected.subsample(0, 0.01)
    expected.blur(2)
    expected.unsupervised_rotation(0)
    assert torch.equal(dataset.examples, expected.examples) and torch.equal(dataset.labels, expected.labels)


def test_unknown_unsupervised_labels(platform):
    with pytest.raises(ValueError, match='^Unknown unsupervised labels: bogus$'):
        registry.num_classes(hparams('mnist', unsupervised_labels='bogus'))
    with pytest.raises(ValueError, match='--unsupervised_labels'):
        registry.validate(hparams('mnist', unsupervised_labels='bogus'))
    with pytest.raises(ValueError, match='^Unknown unsupervised labels: bogus$'):
        registry.get_dataset(hparams('mnist', unsupervised_labels='bogus'), platform, train=False)


def test_loader_cache_builds_each_loader_once(platform):
    cache = registry.LoaderCache(platform)
    assert cache.get(hparams('mnist', 64)) is cache.get(hparams('mnist', 64))
    assert cache.get(hparams('mnist', 64), train=False) is not cache.get(hparams('mnist', 64))


# CIFAR-10 (a fake copy in the real on-disk format) ----------------------------------------------------------------

def test_cifar10_loaders(cifar_platform):
    train = registry.get(hparams('cifar10', 50), platform=cifar_platform)
    test = registry.get(hparams('cifar10', 50), train=False, platform=cifar_platform)
    assert len(train) == 1000 == registry.iterations_per_epoch(hparams('cifar10', 50))
    assert len(test) == FAKE_CIFAR_TEST_SIZE // 50
    assert train.augment and not test.augment
    x, y = next(iter(train))
    assert x.shape == (50, 3, 32, 32) and y.shape == (50,)


def test_cifar10_reads_the_pickles_in_chw_order(cifar_platform, cifar_root):
    import os
    import pickle
    with open(os.path.join(cifar_root, 'cifar10', 'cifar-10-batches-py', 'data_batch_1'), 'rb') as f:
        first = pickle.load(f)
    dataset = cifar10.get_train_set(cifar_platform, use_augmentation=False)
    assert (len(dataset), dataset.num_classes) == (50000, 10)
    assert torch.equal(dataset.examples[:10], torch.from_numpy(first['data'][:10]).view(10, 3, 32, 32))
    assert dataset.labels[:10].tolist() == first['labels'][:10]


def test_cifar10_augmentation_switch(cifar_platform):
    augmented = registry.get(hparams('cifar10', 100), platform=cifar_platform)
    plain = registry.get(hparams('cifar10', 100, do_not_augment=True), platform=cifar_platform)
    assert augmented.augment and not plain.augment
    for loader in (augmented, plain):
        loader.shuffle(0)
    (x_aug, y_aug), (x_plain, y_plain) = next(iter(augmented)), next(iter(plain))
    assert torch.equal(y_aug, y_plain)
    assert not torch.equal(x_aug, x_plain)
    # Without augmentation a batch is the normalised images themselves (ImageNet constants, as the original).
    mean = torch.tensor(cifar10.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cifar10.STD).view(1, 3, 1, 1)
    images = plain.dataset.examples[torch.randperm(50000, generator=torch.Generator().manual_seed(0))[:100]]
    assert torch.equal(x_plain, images.float().div(255).sub(mean).div(std))


def test_cifar10_transformations(cifar_platform):
    subsampled = registry.get(hparams('cifar10', 50, subsample_fraction=0.1), platform=cifar_platform)
    assert len(subsampled) == 100 == registry.iterations_per_epoch(hparams('cifar10', 50, subsample_fraction=0.1))
    random_labels = registry.get(hparams('cifar10', 50, random_labels_fraction=1.0), platform=cifar_platform)
    assert len(random_labels) == 1000
    rotated = registry.get(hparams('cifar10', 50, unsupervised_labels='rotation'), train=False, platform=cifar_platform)
    assert int(max(y.max() for _, y in rotated)) == 3
    blurred = registry.get_dataset(hparams('cifar10', 50, blur_factor=2, subsample_fraction=0.01), cifar_platform)
    assert blurred.examples.shape == (500, 3, 32, 32)


def test_cifar10_missing_without_downloads(results_root, tmp_path):
    from platforms.local import Platform
    platform = Platform(_root=results_root, _dataset_root=str(tmp_path / 'empty'), _device='cpu',
                        _allow_download=False)
    with pytest.raises(DatasetUnavailable) as error:
        registry.get(hparams('cifar10', 50), platform=platform)
    message = str(error.value)
    assert 'cifar-10-batches-py' in message and str(tmp_path / 'empty' / 'cifar10') in message
    assert not (tmp_path / 'empty' / 'cifar10' / 'cifar-10-batches-py').exists()


def test_make_loader_hook_defaults_to_the_in_memory_loader(platform):
    loader = registry.get(hparams('mnist', 1000, subsample_fraction=0.01), platform=platform)
    assert type(loader) is base.Loader
    assert loader.device == platform.torch_device and (loader.rank, loader.world_size) == (0, 1)
    copy.deepcopy(loader)  # plain data: no open files or processes


def test_loader_cache_shares_test_sets_between_training_variants(platform):
    cache = registry.LoaderCache(platform)
    full = DatasetHparams('mnist', 128)
    small = DatasetHparams('mnist', 128, subsample_fraction=0.1, random_labels_fraction=0.5, transformation_seed=3)
    assert cache.get(full, train=False) is cache.get(small, train=False)
    assert cache.get(full, train=True) is not cache.get(small, train=True)
    rotated = DatasetHparams('mnist', 128, unsupervised_labels='rotation', transformation_seed=3)
    assert cache.get(rotated, train=False) is not cache.get(full, train=False)
    assert len(cache.get(small, train=True).dataset) == 6000
