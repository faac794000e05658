"""MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0): 60,000 + 10,000 greyscale 28x28 digits, no augmentation.

Read with `torchvision.datasets.MNIST` from `<dataset_root>/mnist/MNIST/raw/` (the layout torchvision and the original
OpenLTH use). When those files are missing, the copy embedded in this repository (`datasets/embedded/mnist/`, the
official files gzip-compressed) is decompressed there after checking each file's official MD5: no network needed.
"""

import gzip
import hashlib
import os

import torchvision

from datasets import base
from foundations.io import atomic_write_bytes

EMBEDDED_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'embedded', 'mnist')

# MD5 of each file after decompression: the official MNIST files.
OFFICIAL_MD5 = {
    'train-images-idx3-ubyte': '6bbc9ace898e44ae57da46a324031adb',
    'train-labels-idx1-ubyte': 'a25bea736e30d166cdddb491f175f624',
    't10k-images-idx3-ubyte': '2646ac647ad5339dbf082846283269ea',
    't10k-labels-idx1-ubyte': '27ae3e4e09519cfbb04c329615203637',
}

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


def _load(platform, train: bool) -> base.InMemoryDataset:
    install_embedded_copy(platform.dataset_root)
    data = torchvision.datasets.MNIST(root=os.path.join(platform.dataset_root, 'mnist'), train=train, download=False)
    return base.InMemoryDataset(data.data, data.targets, NUM_CLASSES, MEAN, STD, augment=False)


def get_train_set(platform, use_augmentation: bool) -> base.InMemoryDataset:
    """The 60,000 training digits, uint8 (60000, 1, 28, 28). MNIST is never augmented (as in OpenLTH)."""
    return _load(platform, train=True)


def get_test_set(platform) -> base.InMemoryDataset:
    """The 10,000 test digits, uint8 (10000, 1, 28, 28)."""
    return _load(platform, train=False)
