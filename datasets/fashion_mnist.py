"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT licence): 60,000 + 10,000 greyscale 28x28 images of clothing in
10 classes, a drop-in replacement for MNIST (same IDX file format, same sizes, no augmentation).

Read with `torchvision.datasets.FashionMNIST` from `<dataset_root>/fashion_mnist/FashionMNIST/raw/` (the four IDX
files; gzip-compressed copies there are decompressed first). It is not shipped with this repository: when the files
are missing they are downloaded with torchvision if the platform allows it, and otherwise the run stops with a
message saying where to put them. The decoded splits are cached in `<dataset_root>/fashion_mnist/open_lth_cache/`
(datasets/cache.py): torchvision is imported only to build that cache (or to download), not to read it.
"""

import contextlib
import gzip
import os

import numpy as np

from datasets import base, cache
from datasets.errors import DatasetUnavailable
from foundations.io import atomic_write_bytes

MEAN = (0.2860,)
STD = (0.3530,)
NUM_TRAIN_EXAMPLES = 60000
NUM_TEST_EXAMPLES = 10000
NUM_CLASSES = 10

FILES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
SPLIT_FILES = {True: FILES[:2], False: FILES[2:]}


def folder(platform) -> str:
    """The torchvision root: `<dataset_root>/fashion_mnist`."""
    return os.path.join(platform.dataset_root, 'fashion_mnist')


def raw_folder(platform) -> str:
    """Where the IDX files live: `<dataset_root>/fashion_mnist/FashionMNIST/raw`."""
    return os.path.join(folder(platform), 'FashionMNIST', 'raw')


def _decompress_archives(raw: str) -> None:
    """Decompress `<name>.gz` into `<name>` for every IDX file that is only present compressed."""
    for name in FILES:
        target, archive = os.path.join(raw, name), os.path.join(raw, name + '.gz')
        if not os.path.exists(target) and os.path.exists(archive):
            with gzip.open(archive, 'rb') as f:
                atomic_write_bytes(target, f.read())


def _present(platform) -> bool:
    return all(os.path.isfile(os.path.join(raw_folder(platform), name)) for name in FILES)


def ensure_available(platform) -> None:
    """Make sure the four IDX files exist, downloading them if allowed.

    Raises DatasetUnavailable (saying where to put the files) when they are missing and cannot be downloaded.
    """
    _decompress_archives(raw_folder(platform))
    if _present(platform):
        return
    if platform.allow_download and platform.is_primary_process:
        try:
            import torchvision
            with open(os.devnull, 'w') as devnull, contextlib.redirect_stdout(devnull):
                torchvision.datasets.FashionMNIST(root=folder(platform), train=True, download=True)
        except Exception:  # noqa: BLE001 - any network failure means the same thing to the user
            pass
    platform.barrier()
    if not _present(platform):
        raise DatasetUnavailable(
            f'Fashion-MNIST not found: put the four files {", ".join(FILES)} (from '
            f'https://github.com/zalandoresearch/fashion-mnist, gzip-compressed or not) in {raw_folder(platform)}, '
            f'or set OPEN_LTH_DATASET_ROOT to a folder that holds fashion_mnist/FashionMNIST/raw')


def _decode(platform, train: bool) -> cache.Arrays:
    """torchvision's FashionMNIST reader: (examples uint8 (N, 1, 28, 28), labels int64 (N,)) NumPy."""
    import torchvision  # Only to build the cache: about a second to import.
    data = torchvision.datasets.FashionMNIST(root=folder(platform), train=train, download=False)
    return data.data.numpy()[:, None], data.targets.numpy().astype(np.int64)


def _load(platform, train: bool) -> base.InMemoryDataset:
    ensure_available(platform)
    sources = [os.path.join(raw_folder(platform), name) for name in SPLIT_FILES[train]]
    examples, labels = cache.load(folder(platform), 'train' if train else 'test', sources,
                                  lambda: _decode(platform, train))
    return base.InMemoryDataset.channels_first(examples, labels, NUM_CLASSES, MEAN, STD, augment=False)


def get_train_set(platform, use_augmentation: bool) -> base.InMemoryDataset:
    """The 60,000 training images, uint8 (60000, 1, 28, 28). Never augmented (like MNIST).

    Raises DatasetUnavailable when the files are missing and cannot be downloaded.
    """
    return _load(platform, train=True)


def get_test_set(platform) -> base.InMemoryDataset:
    """The 10,000 test images, uint8 (10000, 1, 28, 28). Raises DatasetUnavailable as `get_train_set`."""
    return _load(platform, train=False)
