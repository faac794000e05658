"""Dataset transformations on the embedded MNIST: the original's pinned values (its datasets/test/test_mnist.py)
and the semantics of random labels, subsampling, rotation labels and blurring (the original's,
with README.md's fixes)."""

import copy

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from datasets import base, mnist


@pytest.fixture(scope='module')
def mnist_sets(dataset_root, tmp_path_factory):
    from platforms.local import Platform
    platform = Platform(_root=str(tmp_path_factory.mktemp('results')), _dataset_root=dataset_root, _device='cpu',
                        _allow_download=False)
    return {'train': mnist.get_train_set(platform, use_augmentation=True), 'test': mnist.get_test_set(platform)}


@pytest.fixture
def mnist_test(mnist_sets):
    return copy.deepcopy(mnist_sets['test'])


@pytest.fixture
def mnist_train(mnist_sets):
    return copy.deepcopy(mnist_sets['train'])


# The original's pinned MNIST values -------------------------------------------------------------------------------

def test_sizes_and_first_labels(mnist_train, mnist_test):
    assert (len(mnist_train), len(mnist_test), mnist_train.num_classes) == (60000, 10000, 10)
    assert mnist_train.examples.shape == (60000, 1, 28, 28) and mnist_train.examples.dtype == torch.uint8
    assert mnist_test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert mnist_train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert not mnist_train.augment  # MNIST is never augmented


@pytest.mark.parametrize('fraction, unchanged', [(0.5, 5472), (0.0, 10000), (1.0, 989)])
def test_random_labels_on_the_test_set(mnist_test, fraction, unchanged):
    original = mnist_test.labels.clone()
    mnist_test.randomize_labels(seed=0, fraction=fraction)
    assert int((mnist_test.labels == original).sum()) == unchanged
    assert len(mnist_test) == 10000 and mnist_test.labels.min() >= 0 and mnist_test.labels.max() <= 9


@pytest.mark.parametrize('split, seed, size, first_labels', [
    ('test', 0, 1000, [6, 9, 2, 6, 7, 6, 1, 4, 7, 1]),
    ('test', 1, 1000, [8, 8, 7, 0, 9, 8, 0, 2, 3, 0]),
    ('train', 0, 6000, [3, 2, 7, 8, 2, 3, 5, 2, 8, 9]),
    ('train', 1, 6000, [2, 1, 5, 0, 6, 0, 8, 9, 5, 5]),
])
def test_subsample_tables(mnist_sets, split, seed, size, first_labels):
    dataset = copy.deepcopy(mnist_sets[split])
    dataset.subsample(seed=seed, fraction=0.1)
    assert len(dataset) == size and dataset.examples.shape[0] == size
    assert dataset.labels[:10].tolist() == first_labels


def test_subsample_keeps_examples_with_their_labels_in_permutation_order(mnist_test):
    original = copy.deepcopy(mnist_test)
    mnist_test.subsample(seed=0, fraction=0.1)
    kept = np.random.RandomState(1).permutation(10000)[:1000]
    assert torch.equal(mnist_test.examples, original.examples[torch.from_numpy(kept)])
    assert torch.equal(mnist_test.labels, original.labels[torch.from_numpy(kept)])


def test_second_subsample_raises(mnist_test):
    mnist_test.subsample(seed=0, fraction=0.5)
    with pytest.raises(ValueError, match='Cannot subsample more than once.'):
        mnist_test.subsample(seed=0, fraction=0.5)


def test_subsample_rounds_up(mnist_test):
    mnist_test.subsample(seed=0, fraction=0.00011)  # 1.1 examples -> 2
    assert len(mnist_test) == 2


# Random labels ----------------------------------------------------------------------------------------------------

def test_random_labels_streams():
    positions, labels = base.random_labels(10, 4, seed=3, fraction=0.25)  # k = ceil(2.5) = 3
    assert positions.tolist() == np.random.RandomState(4).permutation(10)[:3].tolist()
    assert labels.tolist() == np.random.RandomState(3).randint(4, size=3).tolist()


def test_random_labels_change_only_the_chosen_positions(mnist_test):
    original = mnist_test.labels.clone()
    mnist_test.randomize_labels(seed=5, fraction=0.3)
    positions, labels = base.random_labels(10000, 10, seed=5, fraction=0.3)
    untouched = torch.ones(10000, dtype=torch.bool)
    untouched[torch.from_numpy(positions)] = False
    assert torch.equal(mnist_test.labels[untouched], original[untouched])
    assert mnist_test.labels[torch.from_numpy(positions)].tolist() == labels.tolist()
    assert torch.equal(mnist_test.examples, copy.deepcopy(mnist_test).examples)


def test_random_labels_are_deterministic_per_seed(mnist_sets):
    def labels(seed):
        dataset = copy.deepcopy(mnist_sets['test'])
        dataset.randomize_labels(seed=seed, fraction=0.5)
        return dataset.labels
    assert torch.equal(labels(3), labels(3))
    assert not torch.equal(labels(3), labels(4))


# Rotation labels --------------------------------------------------------------------------------------------------

def test_rotation_labels_and_exact_quarter_turns(mnist_test):
    original = mnist_test.examples.clone()
    mnist_test.unsupervised_rotation(seed=0)
    labels = mnist_test.labels
    assert labels.tolist() == np.random.RandomState(0).randint(4, size=10000).tolist()
    assert set(labels.tolist()) == {0, 1, 2, 3} and mnist_test.num_classes == 4
    for k in range(4):
        chosen = labels == k
        restored = torch.rot90(mnist_test.examples[chosen], -k, dims=(2, 3))
        assert torch.equal(restored, original[chosen])
        if k:
            assert not torch.equal(mnist_test.examples[chosen], original[chosen])


def test_rotation_is_counter_clockwise_like_pil(mnist_test):
    original = mnist_test.examples.clone()
    mnist_test.unsupervised_rotation(seed=1)
    for k in (1, 2, 3):
        i = int(torch.nonzero(mnist_test.labels == k)[0])
        pil = Image.fromarray(original[i, 0].numpy(), mode='L')
        expected = TF.pil_to_tensor(TF.rotate(pil, 90 * k))  # PIL/torchvision angles are counter-clockwise
        assert torch.equal(mnist_test.examples[i], expected)


def test_rotation_needs_square_images():
    dataset = base.InMemoryDataset(torch.zeros(4, 28, 30, dtype=torch.uint8), np.zeros(4), 10, (0.5,), (0.5,))
    with pytest.raises(ValueError, match='square'):
        dataset.unsupervised_rotation(0)


# Blur -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('factor', [2, 3])
def test_blur_keeps_labels_and_shape_and_matches_pil(mnist_test, factor):
    original = copy.deepcopy(mnist_test)
    mnist_test.blur(blur_factor=factor)
    assert torch.equal(mnist_test.labels, original.labels)
    assert mnist_test.examples.shape == (10000, 1, 28, 28) and mnist_test.examples.dtype == torch.uint8
    changed = (mnist_test.examples != original.examples).float().mean().item()
    assert changed > 0.1
    # The original's blur: PIL bilinear Resize to int(28 / f) square and back to 28x28 (within 2 grey levels).
    small = int(28 / factor)
    for i in range(20):
        pil = Image.fromarray(original.examples[i, 0].numpy(), mode='L')
        expected = TF.pil_to_tensor(TF.resize(TF.resize(pil, [small, small]), [28, 28])).int()
        difference = (mnist_test.examples[i].int() - expected).abs()
        assert difference.float().mean() < 0.5 and difference.max() <= 2


def test_blur_factor_one_changes_nothing_and_too_large_raises(mnist_test):
    original = mnist_test.examples.clone()
    mnist_test.blur(blur_factor=1)
    assert torch.equal(mnist_test.examples, original)
    with pytest.raises(ValueError, match='too large'):
        mnist_test.blur(blur_factor=29)
