"""CIFAR-10 (Krizhevsky 2009): 50,000 + 10,000 colour 32x32 images in 10 classes.

Read with torchvision's CIFAR10 class from `<dataset_root>/cifar10/cifar-10-batches-py/` (the python version of the
dataset, as the original OpenLTH stores it). CIFAR-10 cannot be shipped with this repository: when the folder is
missing it is downloaded with torchvision if the platform allows it, and otherwise the run stops with a message
saying where to put it. The files are checked (images per file, rows of 3,072 bytes, one label per image) before any
result is written; a damaged file is named in one line. Normalisation uses the ImageNet mean and std, as the
original does; training augmentation is a random crop with 4 pixels of zero padding and a random horizontal flip.

The decoded splits are cached in `<dataset_root>/cifar10/open_lth_cache/` (datasets/cache.py): torchvision is imported
only to build that cache (or to download the dataset), not to read it.
"""

import contextlib
import functools
import os
import pickle

import numpy as np

from datasets import base, cache, classic
from datasets.errors import DatasetUnavailable
from foundations.io import DamagedFile
from platforms.platform import get_platform

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
NUM_TRAIN_EXAMPLES = 50000
NUM_TEST_EXAMPLES = 10000
NUM_CLASSES = 10
IMAGES_PER_TRAINING_FILE = 10000
SOURCE = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'


# The files of the python version (torchvision's CIFAR10.base_folder, train_list, test_list and meta['filename'];
# tests/datasets/test_cache.py checks that they agree), so that finding them needs no torchvision import.
BASE_FOLDER = 'cifar-10-batches-py'
TRAIN_FILES = ('data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5')
TEST_FILES = ('test_batch',)
META_FILE = 'batches.meta'
META_KEY = 'label_names'


@functools.cache
def reader_class() -> type:
    """torchvision's CIFAR10 reader, checking that the files exist rather than their MD5 (so that test fixtures in
    the real on-disk format, and re-pickled copies, load). Built on first use: importing torchvision takes a second."""
    import torchvision

    class _CIFAR10(torchvision.datasets.CIFAR10):
        def _check_integrity(self) -> bool:
            return _present(self.root)

        def _load_meta(self) -> None:
            """The class names from batches.meta (torchvision's version insists on the official file's MD5)."""
            with open(os.path.join(self.root, self.base_folder, self.meta['filename']), 'rb') as f:
                self.classes = pickle.load(f, encoding='latin1')[self.meta['key']]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return _CIFAR10


def folder(platform) -> str:
    """`<dataset_root>/cifar10`, the folder holding `cifar-10-batches-py`."""
    return os.path.join(platform.dataset_root, 'cifar10')


def _present(root: str) -> bool:
    """Whether every file of the python version exists in `root/cifar-10-batches-py`."""
    names = TRAIN_FILES + TEST_FILES + (META_FILE,)
    return all(os.path.isfile(os.path.join(root, BASE_FOLDER, name)) for name in names)


def ensure_available(platform) -> None:
    """Make sure `cifar-10-batches-py` exists, downloading it if allowed; raise DatasetUnavailable otherwise."""
    root = folder(platform)
    if _present(root):
        return
    if platform.allow_download and platform.is_primary_process:
        try:
            with open(os.devnull, 'w') as devnull, contextlib.redirect_stdout(devnull):
                reader_class()(root=root, train=True, download=True)
        except Exception:  # noqa: BLE001 - any network failure means the same thing to the user
            pass
    platform.barrier()
    if not _present(root):
        raise DatasetUnavailable(
            f'CIFAR-10 not found: {where_to_put(platform)}, or set OPEN_LTH_DATASET_ROOT to a folder that holds '
            f'cifar10/cifar-10-batches-py')


def where_to_put(platform) -> str:
    """The instruction for installing CIFAR-10 by hand, with this platform's folder."""
    return (f'put the python version of CIFAR-10 (the folder cifar-10-batches-py from {SOURCE}) at '
            f'{os.path.join(folder(platform), "cifar-10-batches-py")}')


def check_file(path: str, training: bool, fix: str) -> None:
    """Raise DamagedFile unless `path` is a CIFAR-10 batch: a pickle of {'data': (n, 3072) uint8, 'labels': n
    ints}, with n = 10,000 for a training file and n >= 1 for the test file."""
    try:
        with open(path, 'rb') as f:
            entry = pickle.load(f, encoding='latin1')
        data, labels = entry['data'], entry.get('labels', entry.get('fine_labels'))
        n = len(data)
        ok = getattr(data, 'shape', None) == (n, 3072) and labels is not None and len(labels) == n
    except Exception:  # noqa: BLE001 - whatever a damaged pickle raises, the file is damaged
        raise DamagedFile(path, 'it is not a CIFAR-10 batch file (truncated or another file)', fix) from None
    if not ok:
        raise DamagedFile(path, 'it is not a CIFAR-10 batch file (wrong image or label layout)', fix)
    if training and n != IMAGES_PER_TRAINING_FILE:
        raise DamagedFile(path, f'it holds {n} images where CIFAR-10 has {IMAGES_PER_TRAINING_FILE} per file', fix)
    if n == 0:
        raise DamagedFile(path, 'it holds no images', fix)


def _check_files(platform, train: bool) -> None:
    """Raise DamagedFile naming the first damaged file of the split (read only when the split did not load)."""
    fix = f'replace the whole folder: {where_to_put(platform)}'
    base_folder = os.path.join(folder(platform), BASE_FOLDER)
    for name in (TRAIN_FILES if train else TEST_FILES):
        check_file(os.path.join(base_folder, name), train, fix)
    meta = os.path.join(base_folder, META_FILE)
    try:
        with open(meta, 'rb') as f:
            pickle.load(f, encoding='latin1')[META_KEY]
    except Exception:  # noqa: BLE001
        raise DamagedFile(meta, 'it is not the CIFAR-10 class list (truncated or another file)', fix) from None


def _decode(platform, train: bool) -> cache.Arrays:
    """torchvision's reader over the split: (examples uint8 (N, 3, 32, 32), labels int64 (N,)) NumPy; raises
    DamagedFile naming a damaged file."""
    try:
        data = reader_class()(root=folder(platform), train=train, download=False)
    except Exception:  # noqa: BLE001 - torchvision's reader fails in many ways on a damaged file: find which
        _check_files(platform, train)
        raise
    expected = NUM_TRAIN_EXAMPLES if train else None
    if len(data.data) == 0 or (expected is not None and len(data.data) != expected):
        _check_files(platform, train)
    return data.data.transpose(0, 3, 1, 2), np.array(data.targets, dtype=np.int64)


def _read(platform, train: bool) -> cache.Arrays:
    """(examples uint8 (N, 3, 32, 32), labels int64 (N,)) of a split, from the cache when it is fresh; raises
    DatasetUnavailable or DamagedFile (naming the file)."""
    ensure_available(platform)
    names = (TRAIN_FILES if train else TEST_FILES) + (META_FILE,)
    sources = [os.path.join(folder(platform), BASE_FOLDER, name) for name in names]
    return cache.load(folder(platform), 'train' if train else 'test', sources, lambda: _decode(platform, train))


def _load(platform, train: bool, augment: bool) -> base.InMemoryDataset:
    examples, labels = _read(platform, train)
    return base.InMemoryDataset.channels_first(examples, labels, NUM_CLASSES, MEAN, STD, augment=augment)


def get_train_set(platform, use_augmentation: bool) -> base.InMemoryDataset:
    """The training images, uint8 (50000, 3, 32, 32); augmented (crop + flip) when `use_augmentation`."""
    return _load(platform, train=True, augment=use_augmentation)


def get_test_set(platform) -> base.InMemoryDataset:
    """The test images, uint8 (10000, 3, 32, 32), never augmented."""
    return _load(platform, train=False, augment=False)


class Dataset(classic.ImageDataset):
    """The original's CIFAR-10 class: uint8 numpy examples (N, 32, 32, 3), labels; training
    augmentation RandomHorizontalFlip() then RandomCrop(32, padding=4); Normalize with the ImageNet constants.
    Read from `get_platform().dataset_root`. Registered through the registry, a subclass of it is served by the
    in-memory loader."""

    @staticmethod
    def num_train_examples() -> int:
        return NUM_TRAIN_EXAMPLES

    @staticmethod
    def num_test_examples() -> int:
        return NUM_TEST_EXAMPLES

    @staticmethod
    def num_classes() -> int:
        return NUM_CLASSES

    @staticmethod
    def get_train_set(use_augmentation: bool) -> 'Dataset':
        import torchvision
        augment = [torchvision.transforms.RandomHorizontalFlip(), torchvision.transforms.RandomCrop(32, padding=4)]
        examples, labels = _read(get_platform(), train=True)
        return Dataset(examples.transpose(0, 2, 3, 1), labels, augment if use_augmentation else [])

    @staticmethod
    def get_test_set() -> 'Dataset':
        examples, labels = _read(get_platform(), train=False)
        return Dataset(examples.transpose(0, 2, 3, 1), labels)

    def __init__(self, examples, labels, image_transforms=None):
        import torchvision
        super().__init__(examples, labels, image_transforms or [],
                         [torchvision.transforms.Normalize(list(MEAN), list(STD))])

    def example_to_image(self, example) -> 'PIL.Image.Image':  # noqa: F821
        from PIL import Image
        return Image.fromarray(example)


DataLoader = classic.DataLoader
