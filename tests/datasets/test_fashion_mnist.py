"""datasets/fashion_mnist.py on a tiny fake copy in the real IDX format (torchvision's FashionMNIST/raw layout)."""

import os

import numpy as np
import pytest
import torch

from datasets import fashion_mnist, registry
from datasets.errors import DatasetUnavailable
from foundations.hparams import DatasetHparams
from tests.datasets.conftest import write_fashion_mnist


def make_platform(results_root, dataset_root):
    from platforms.local import Platform
    return Platform(_root=results_root, _dataset_root=str(dataset_root), _device='cpu', _allow_download=False)


def test_reads_the_idx_files(results_root, tmp_path):
    arrays = write_fashion_mnist(str(tmp_path / 'fashion_mnist' / 'FashionMNIST' / 'raw'), 120, 30)
    platform = make_platform(results_root, tmp_path)
    train = fashion_mnist.get_train_set(platform, use_augmentation=True)
    test = fashion_mnist.get_test_set(platform)
    assert (len(train), len(test), train.num_classes) == (120, 30, 10)
    assert not train.augment  # like MNIST, never augmented
    assert torch.equal(train.examples[:, 0], torch.from_numpy(arrays['train-images-idx3-ubyte']))
    assert train.labels.tolist() == arrays['train-labels-idx1-ubyte'].tolist()
    assert torch.equal(test.examples[:, 0], torch.from_numpy(arrays['t10k-images-idx3-ubyte']))
    assert test.labels.tolist() == arrays['t10k-labels-idx1-ubyte'].tolist()
    assert (fashion_mnist.MEAN, fashion_mnist.STD) == ((0.2860,), (0.3530,))


def test_registry_loader_normalises_with_fashion_mnist_constants(results_root, tmp_path):
    arrays = write_fashion_mnist(str(tmp_path / 'fashion_mnist' / 'FashionMNIST' / 'raw'), 100, 20)
    platform = make_platform(results_root, tmp_path)
    loader = registry.get(DatasetHparams('fashion_mnist', 32, subsample_fraction=0.5), platform=platform)
    assert len(loader.dataset) == 50 and len(loader) == 2
    x, y = next(iter(loader))
    keep = np.random.RandomState(1).permutation(100)[:50]
    images = torch.from_numpy(arrays['train-images-idx3-ubyte'][keep[:32]]).float().div(255)
    assert x.shape == (32, 1, 28, 28)
    assert torch.equal(x[:, 0], images.sub(0.2860).div(0.3530))
    assert y.tolist() == arrays['train-labels-idx1-ubyte'][keep[:32]].tolist()


def test_gzip_compressed_files_are_decompressed(results_root, tmp_path):
    raw = tmp_path / 'fashion_mnist' / 'FashionMNIST' / 'raw'
    arrays = write_fashion_mnist(str(raw), 10, 5, compressed=True)
    platform = make_platform(results_root, tmp_path)
    test = fashion_mnist.get_test_set(platform)
    assert test.labels.tolist() == arrays['t10k-labels-idx1-ubyte'].tolist()
    assert sorted(os.listdir(raw)) == sorted(fashion_mnist.FILES + tuple(f + '.gz' for f in fashion_mnist.FILES))


def test_missing_without_downloads(results_root, tmp_path):
    platform = make_platform(results_root, tmp_path)
    with pytest.raises(DatasetUnavailable) as error:
        fashion_mnist.get_train_set(platform, True)
    message = str(error.value)
    assert str(tmp_path / 'fashion_mnist' / 'FashionMNIST' / 'raw') in message
    assert 'train-images-idx3-ubyte' in message and 'OPEN_LTH_DATASET_ROOT' in message
