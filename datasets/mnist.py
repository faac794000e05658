"""MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0): 60,000 + 10,000 greyscale 28x28 digits, no augmentation.

Read with `torchvision.datasets.MNIST` from `<dataset_root>/mnist/MNIST/raw/` (the layout torchvision and the original
OpenLTH use). When those files are missing, the copy embedded in this repository (`datasets/embedded/mnist/`, the
official files gzip-compressed) is decompressed there after checking each file's official MD5: no network needed.

Before anything is read, each file's size is checked against the official one, and its MD5 too unless a previous
check recorded the same size, modification and status-change times and inode in `.open_lth_md5_verified.json`
beside it (so the MD5 is computed once per file, not at every start).

The decoded splits are cached in `<dataset_root>/mnist/open_lth_cache/` (datasets/cache.py): torchvision is imported
only to build that cache, not to read it.
"""

import gzip
import hashlib
import json
import os

import numpy as np
import torch

from datasets import base, cache, classic
from foundations.io import DamagedFile, FileProblem, atomic_write_bytes, atomic_write_text
from platforms.platform import get_platform

EMBEDDED_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'embedded', 'mnist')

# MD5 of each file after decompression: the official MNIST files.
OFFICIAL_MD5 = {
    'train-images-idx3-ubyte': '6bbc9ace898e44ae57da46a324031adb',
    'train-labels-idx1-ubyte': 'a25bea736e30d166cdddb491f175f624',
    't10k-images-idx3-ubyte': '2646ac647ad5339dbf082846283269ea',
    't10k-labels-idx1-ubyte': '27ae3e4e09519cfbb04c329615203637',
}
OFFICIAL_SIZE = {  # bytes: a 16-byte (images) or 8-byte (labels) IDX header, then one byte per pixel or label
    'train-images-idx3-ubyte': 47040016,
    'train-labels-idx1-ubyte': 60008,
    't10k-images-idx3-ubyte': 7840016,
    't10k-labels-idx1-ubyte': 10008,
}
VERDICTS = '.open_lth_md5_verified.json'
SPLIT_FILES = {True: ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
               False: ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')}
REINSTALL = 'delete it and run the same command again to reinstall the embedded MNIST'

MEAN = (0.1307,)
STD = (0.3081,)
NUM_TRAIN_EXAMPLES = 60000
NUM_TEST_EXAMPLES = 10000
NUM_CLASSES = 10


def raw_folder(dataset_root: str) -> str:
    """Where torchvision (and the original OpenLTH) keep the four decompressed MNIST files."""
    return os.path.join(dataset_root, 'mnist', 'MNIST', 'raw')


def install_embedded_copy(dataset_root: str) -> None:
    """Decompress the embedded MNIST into `<dataset_root>/mnist/MNIST/raw/` where a file is missing.

    Raises RuntimeError if a decompressed file does not have the official MD5 (a damaged checkout).
    """
    folder = raw_folder(dataset_root)
    for name, md5 in OFFICIAL_MD5.items():
        target = os.path.join(folder, name)
        if os.path.exists(target):
            continue
        with gzip.open(os.path.join(EMBEDDED_FOLDER, name + '.gz'), 'rb') as f:
            data = f.read()
        if hashlib.md5(data).hexdigest() != md5:
            raise RuntimeError(f'The embedded MNIST file {name} is damaged (MD5 mismatch); restore it from git.')
        atomic_write_bytes(target, data)


def _read_verdicts(folder: str) -> dict:
    try:
        with open(os.path.join(folder, VERDICTS)) as f:
            verdicts = json.load(f)
        return verdicts if isinstance(verdicts, dict) else {}
    except (OSError, ValueError):
        return {}


def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 22), b''):
            digest.update(block)
    return digest.hexdigest()


def check_installed(dataset_root: str) -> None:
    """Raise DamagedFile naming the first MNIST file in the raw folder that is not the official one: a wrong size
    (truncated, or another dataset), or a wrong MD5. MD5 verdicts are remembered by (size, modification time,
    status-change time, inode: a file rewritten with its size and modification time restored is checked again) in
    `.open_lth_md5_verified.json` (not written when the folder is read-only: then the MD5 is computed each time)."""
    folder = raw_folder(dataset_root)
    verdicts = _read_verdicts(folder)
    changed = False
    for name, md5 in OFFICIAL_MD5.items():
        path = os.path.join(folder, name)
        stat = os.stat(path)
        if stat.st_size != OFFICIAL_SIZE[name]:
            raise DamagedFile(path, f'it has {stat.st_size} bytes where the official MNIST file has '
                                    f'{OFFICIAL_SIZE[name]}', REINSTALL)
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        if verdicts.get(name) == stamp:
            continue
        if _md5(path) != md5:
            raise DamagedFile(path, "its MD5 is not the official MNIST file's", REINSTALL)
        verdicts[name] = stamp
        changed = True
    if changed:
        try:
            atomic_write_text(os.path.join(folder, VERDICTS), json.dumps(verdicts))
        except FileProblem:
            pass  # A read-only dataset folder: check again next time.


def _decode(dataset_root: str, train: bool) -> cache.Arrays:
    """The split as torchvision's MNIST reads it: (examples uint8 (N, 1, 28, 28), labels int64 (N,)) NumPy."""
    import torchvision  # Only to build the cache: about a second to import.
    data = torchvision.datasets.MNIST(root=os.path.join(dataset_root, 'mnist'), train=train, download=False)
    return data.data.numpy()[:, None], data.targets.numpy().astype(np.int64)


def _read(platform, train: bool) -> cache.Arrays:
    """(examples uint8 (N, 1, 28, 28), labels int64 (N,)) of a split, from the cache when it is fresh; the files are
    installed and checked first. Raises DamagedFile naming a damaged file."""
    root = platform.dataset_root
    install_embedded_copy(root)
    check_installed(root)
    sources = [os.path.join(raw_folder(root), name) for name in SPLIT_FILES[train]]
    return cache.load(os.path.join(root, 'mnist'), 'train' if train else 'test', sources,
                      lambda: _decode(root, train))


def _load(platform, train: bool) -> base.InMemoryDataset:
    examples, labels = _read(platform, train)
    return base.InMemoryDataset.channels_first(examples, labels, NUM_CLASSES, MEAN, STD, augment=False)


def get_train_set(platform, use_augmentation: bool) -> base.InMemoryDataset:
    """The 60,000 training digits, uint8 (60000, 1, 28, 28). MNIST is never augmented (as in OpenLTH)."""
    return _load(platform, train=True)


def get_test_set(platform) -> base.InMemoryDataset:
    """The 10,000 test digits, uint8 (10000, 1, 28, 28)."""
    return _load(platform, train=False)


class Dataset(classic.ImageDataset):
    """The original's MNIST class: uint8 tensor examples (N, 28, 28), labels, Normalize(0.1307,
    0.3081), never augmented. Read from `get_platform().dataset_root`. Registered through the registry, a subclass
    of it is served by the in-memory loader."""

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
        examples, labels = _read(get_platform(), train=True)  # No augmentation, as in the original.
        return Dataset(torch.from_numpy(examples[:, 0]), labels)

    @staticmethod
    def get_test_set() -> 'Dataset':
        examples, labels = _read(get_platform(), train=False)
        return Dataset(torch.from_numpy(examples[:, 0]), labels)

    def __init__(self, examples, labels):
        import torchvision
        tensor_transforms = [torchvision.transforms.Normalize(mean=list(MEAN), std=list(STD))]
        super().__init__(examples, labels, [], tensor_transforms)

    def example_to_image(self, example) -> 'PIL.Image.Image':  # noqa: F821
        from PIL import Image
        return Image.fromarray(example.numpy())


DataLoader = classic.DataLoader
