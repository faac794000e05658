"""Fixtures of the dataset tests: fake copies of the datasets that cannot be shipped, in their real on-disk formats,
written once per session into temporary folders (never into the shared dataset root)."""

import gzip
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import FAKE_CIFAR_TEST_SIZE, write_cifar10  # noqa: F401 - used by the dataset tests


def write_idx(path: str, array: np.ndarray) -> None:
    """An IDX file of uint8 data (MNIST's format): magic 2051 for 3-d images, 2049 for 1-d labels, big-endian dims;
    gzip-compressed when `path` ends in .gz."""
    magic = {3: 2051, 1: 2049}[array.ndim]
    header = np.array([magic] + list(array.shape), dtype='>i4').tobytes()
    data = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(data)


def write_fashion_mnist(raw_folder: str, num_train: int, num_test: int, compressed: bool = False,
                        seed: int = 0) -> dict:
    """A fake Fashion-MNIST in `raw_folder` (torchvision's `<root>/FashionMNIST/raw`). Returns the arrays written."""
    rng = np.random.default_rng(seed)
    os.makedirs(raw_folder, exist_ok=True)
    arrays = {
        'train-images-idx3-ubyte': rng.integers(0, 256, size=(num_train, 28, 28), dtype=np.uint8),
        'train-labels-idx1-ubyte': rng.integers(0, 10, size=num_train).astype(np.uint8),
        't10k-images-idx3-ubyte': rng.integers(0, 256, size=(num_test, 28, 28), dtype=np.uint8),
        't10k-labels-idx1-ubyte': rng.integers(0, 10, size=num_test).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(os.path.join(raw_folder, name + ('.gz' if compressed else '')), array)
    return arrays


def imagenet_colour(image_id: int):
    """The solid RGB colour of fake ImageNet image `image_id` (distinct per image, far apart after JPEG)."""
    return (20 * image_id % 256, 255 - 20 * image_id % 256, (60 + 40 * image_id) % 256)


IMAGENET_CLASSES = ('n003', 'n001', 'n002')  # created in this (unsorted) order; labels follow the sorted order
IMAGENET_SIZES = ((300, 260), (260, 300), (256, 256), (320, 240))  # (width, height) of the images of a class


def write_imagenet(root: str, per_class: dict) -> dict:
    """A tiny ImageFolder tree: `root/<split>/<class>/<class>_<i>.JPEG`, solid colours (see `imagenet_colour`) of
    assorted sizes, plus a non-image file that must be ignored. `per_class` maps split -> images per class.
    Returns split -> list of (relative path, label, image id) in sorted order."""
    expected = {}
    image_id = 0
    for split, count in per_class.items():
        rows = []
        for name in IMAGENET_CLASSES:
            label = sorted(IMAGENET_CLASSES).index(name)
            folder = os.path.join(root, split, name)
            os.makedirs(folder)
            with open(os.path.join(folder, 'README.txt'), 'w') as f:
                f.write('not an image')
            for i in reversed(range(count)):
                size = IMAGENET_SIZES[i % len(IMAGENET_SIZES)]
                Image.new('RGB', size, imagenet_colour(image_id)).save(os.path.join(folder, f'{name}_{i}.JPEG'),
                                                                       quality=95)
                rows.append((f'{name}/{name}_{i}.JPEG', label, image_id))
                image_id += 1
        expected[split] = sorted(rows)
    return expected


@pytest.fixture(scope='session')
def imagenet_tree(tmp_path_factory):
    """(root, expected) of a tiny fake ImageNet: 3 classes, 4 training and 2 validation JPEGs each."""
    root = tmp_path_factory.mktemp('fake_imagenet')
    expected = write_imagenet(str(root), {'train': 4, 'val': 2})
    return str(root), expected


@pytest.fixture
def imagenet_platform(results_root, dataset_root, imagenet_tree):
    """A CPU platform pointed at the fake ImageNet."""
    from platforms.local import Platform
    return Platform(_root=results_root, _dataset_root=dataset_root, _imagenet_root=imagenet_tree[0],
                    _device='cpu', _allow_download=False)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Dataset tests move many small tensors; on a busy 2-core machine torch's intra-op threads make them several
    times slower, so each test runs single-threaded (restored afterwards)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
