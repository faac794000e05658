"""datasets/cache.py: decoded splits cached as memory-mapped .npy files, never served stale.

The unit tests build a toy split from one source file (bytes -> examples, their sum mod 10 -> labels) so that every
change to the source shows in the data; the integration tests use the real readers (torchvision's) on MNIST,
Fashion-MNIST and the fake CIFAR-10.
"""

import json
import multiprocessing
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from datasets import base, cache, cifar10, fashion_mnist, mnist
from tests.conftest import REPO
from tests.datasets.conftest import write_fashion_mnist

EXAMPLES = 60  # The toy source: 60 examples of 1 x 2 x 2 bytes.


def write_source(path, seed: int = 0) -> bytes:
    data = np.random.default_rng(seed).integers(0, 256, size=EXAMPLES * 4, dtype=np.uint8).tobytes()
    with open(path, 'wb') as f:
        f.write(data)
    return data


class Toy:
    """The toy dataset folder: `source` (raw bytes) and a counting `build`."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.source = os.path.join(self.folder, 'raw', 'source.bin')
        os.makedirs(os.path.dirname(self.source), exist_ok=True)
        self.data = write_source(self.source)
        self.builds = 0

    def decode(self):
        with open(self.source, 'rb') as f:
            examples = np.frombuffer(f.read(), dtype=np.uint8).reshape(-1, 1, 2, 2).copy()
        return examples, examples.reshape(len(examples), -1).sum(axis=1).astype(np.int64) % 10

    def build(self):
        self.builds += 1
        return self.decode()

    def load(self, split='train'):
        return cache.load(self.folder, split, [self.source], self.build)

    @property
    def cache_folder(self):
        return cache.cache_folder(self.folder)

    def manifest(self, split='train'):
        with open(os.path.join(self.cache_folder, f'{split}.json')) as f:
            return json.load(f)

    def array_file(self, name, split='train'):
        return os.path.join(self.cache_folder, self.manifest(split)['arrays'][name]['file'])


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 0)  # Trust stats at once (the racy window has its own test).
    return Toy(tmp_path / 'toy')


def count_hashes(monkeypatch):
    """Replace cache.file_hash by a counting version; returns the list of hashed paths."""
    hashed, real = [], cache.file_hash
    monkeypatch.setattr(cache, 'file_hash', lambda path: hashed.append(path) or real(path))
    return hashed


def assert_equal_arrays(actual, expected):
    assert len(actual) == len(expected) == 2
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape and a.tobytes() == e.tobytes()


# Building and serving ---------------------------------------------------------------------------------------------


def test_first_load_builds_and_later_loads_map_the_cache(toy, monkeypatch):
    first = toy.load()
    assert toy.builds == 1
    assert sorted(os.listdir(toy.cache_folder)) == sorted(
        ['train.json', os.path.basename(toy.array_file('examples')), os.path.basename(toy.array_file('labels'))])
    hashed = count_hashes(monkeypatch)
    second = toy.load()
    assert toy.builds == 1 and hashed == []  # The fast path: stat only.
    assert_equal_arrays(second, toy.decode())
    assert_equal_arrays(first, toy.decode())
    examples, labels = second
    assert isinstance(examples.base, np.memmap) or isinstance(examples.base.base, np.memmap)
    assert type(examples) is np.ndarray and examples.flags.writeable and labels.flags.writeable


def test_writing_into_served_arrays_never_changes_the_cache(toy):
    toy.load()
    examples, labels = toy.load()
    examples[:] = 7
    labels[:] = 3
    del examples, labels
    assert toy.builds == 1
    assert_equal_arrays(toy.load(), toy.decode())
    assert toy.builds == 1


def test_manifest_records_stats_hashes_and_cache_sizes(toy):
    toy.load()
    manifest = toy.manifest()
    stat = os.stat(toy.source)
    entry = manifest['sources']['raw/source.bin']
    assert entry == {'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns, 'ctime_ns': stat.st_ctime_ns,
                     'inode': stat.st_ino, 'hash': cache.file_hash(toy.source), 'trusted': True}
    assert manifest['arrays']['examples']['size'] == os.path.getsize(toy.array_file('examples'))
    assert manifest['arrays']['examples']['shape'] == [EXAMPLES, 1, 2, 2]
    assert manifest['arrays']['labels']['shape'] == [EXAMPLES]


# Never stale ------------------------------------------------------------------------------------------------------


def test_same_size_new_content_with_restored_mtime_is_rebuilt(toy):
    toy.load()
    stat = os.stat(toy.source)
    with open(toy.source, 'r+b') as f:
        f.write(bytes([toy.data[0] ^ 0xFF]))  # One byte changed; same size.
    os.utime(toy.source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # Modification time restored; ctime is new.
    assert (os.stat(toy.source).st_size, os.stat(toy.source).st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    served = toy.load()
    assert toy.builds == 2
    assert_equal_arrays(served, toy.decode())
    assert served[0].reshape(-1)[0] == toy.data[0] ^ 0xFF
    assert_equal_arrays(toy.load(), toy.decode())
    assert toy.builds == 2


def test_source_of_another_size_is_rebuilt_and_replaced_files_removed(toy):
    toy.load()
    old_files = set(os.listdir(toy.cache_folder))
    with open(toy.source, 'ab') as f:
        f.write(bytes(8))  # Two more examples.
    served = toy.load()
    assert toy.builds == 2 and len(served[0]) == EXAMPLES + 2
    assert_equal_arrays(served, toy.decode())
    files = set(os.listdir(toy.cache_folder))
    assert files & old_files == {'train.json'}  # The replaced arrays are gone.
    assert len(files) == 3


def test_same_content_with_new_stat_is_served_after_one_hash(toy, monkeypatch):
    toy.load()
    os.utime(toy.source, ns=(1, 1))  # A "touch": new mtime and ctime, same bytes.
    hashed = count_hashes(monkeypatch)
    assert_equal_arrays(toy.load(), toy.decode())
    assert toy.builds == 1 and hashed == [toy.source]
    assert toy.manifest()['sources']['raw/source.bin']['mtime_ns'] == 1  # Refreshed...
    toy.load()
    assert hashed == [toy.source]  # ...so the next load only stats.


def test_a_copied_dataset_folder_is_served_after_rehashing(toy, tmp_path, monkeypatch):
    toy.load()
    copy = Toy.__new__(Toy)
    copy.folder, copy.builds = str(tmp_path / 'copy'), 0
    shutil.copytree(toy.folder, copy.folder)  # New inodes and ctimes, same contents.
    copy.source = os.path.join(copy.folder, 'raw', 'source.bin')
    hashed = count_hashes(monkeypatch)
    assert_equal_arrays(copy.load(), toy.decode())
    assert copy.builds == 0 and hashed == [copy.source]


def test_a_source_changed_within_the_racy_window_is_rehashed(toy, monkeypatch):
    """A source stamped less than RACY_WINDOW_NS before it was hashed could be rewritten within its timestamps'
    granularity: its stat is not trusted until a later load rehashes it when it is old enough."""
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 10 ** 18)
    toy.load()
    assert toy.manifest()['sources']['raw/source.bin']['trusted'] is False
    hashed = count_hashes(monkeypatch)
    toy.load()
    assert hashed == [toy.source] and toy.builds == 1  # Rehashed, same content: served.
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 0)
    toy.load()
    assert len(hashed) == 2 and toy.manifest()['sources']['raw/source.bin']['trusted'] is True
    toy.load()
    assert len(hashed) == 2


@pytest.mark.parametrize('damage', ['delete examples', 'truncate examples', 'delete labels', 'grow labels',
                                    'delete manifest', 'garbage manifest', 'truncated manifest', 'old format',
                                    'empty cache file', 'other split', 'manifest escapes folder'])
def test_damaged_cache_is_rebuilt_silently(toy, damage):
    toy.load()
    manifest_path = os.path.join(toy.cache_folder, 'train.json')
    manifest = toy.manifest()
    if damage == 'delete examples':
        os.remove(toy.array_file('examples'))
    elif damage == 'truncate examples':
        with open(toy.array_file('examples'), 'r+b') as f:
            f.truncate(os.path.getsize(toy.array_file('examples')) - 4)
    elif damage == 'delete labels':
        os.remove(toy.array_file('labels'))
    elif damage == 'grow labels':
        with open(toy.array_file('labels'), 'ab') as f:
            f.write(bytes(8))
    elif damage == 'delete manifest':
        os.remove(manifest_path)
    elif damage == 'garbage manifest':
        with open(manifest_path, 'wb') as f:
            f.write(b'\x00\xff not json')
    elif damage == 'truncated manifest':
        with open(manifest_path, 'r+b') as f:
            f.truncate(30)
    elif damage == 'old format':
        manifest['format'] = 0
        with open(manifest_path, 'w') as f:
            json.dump(manifest, f)
    elif damage == 'empty cache file':
        open(toy.array_file('examples'), 'wb').close()
    elif damage == 'other split':
        shutil.copy(manifest_path, os.path.join(toy.cache_folder, 'test.json'))
    elif damage == 'manifest escapes folder':
        manifest['arrays']['examples']['file'] = '../raw/source.bin'
        with open(manifest_path, 'w') as f:
            json.dump(manifest, f)
    split = 'test' if damage == 'other split' else 'train'
    builds = toy.builds
    assert_equal_arrays(toy.load(split), toy.decode())
    assert toy.builds == builds + 1
    assert_equal_arrays(toy.load(split), toy.decode())  # The rebuilt cache is served.
    assert toy.builds == builds + 1


def test_a_source_changing_during_the_build_leaves_no_cache(toy):
    def build():
        toy.builds += 1
        arrays = toy.decode()
        write_source(toy.source, seed=1)  # Rewritten while being read.
        return arrays
    served = cache.load(toy.folder, 'train', [toy.source], build)
    assert served[0].tobytes() == toy.data  # What was read...
    assert not os.path.exists(os.path.join(toy.cache_folder, 'train.json'))
    assert_equal_arrays(toy.load(), toy.decode())  # Built again, from the new content.
    assert toy.builds == 2


# Folders that cannot be written, builders racing -------------------------------------------------------------------


def test_unwritable_cache_folder_reads_without_cache(toy):
    with open(toy.cache_folder, 'w') as f:  # A file where the folder would go: nothing can be written there.
        f.write('in the way')
    assert_equal_arrays(toy.load(), toy.decode())
    assert_equal_arrays(toy.load(), toy.decode())
    assert toy.builds == 2  # Decoded every time, no error.


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0, reason='root can write a read-only folder')
def test_read_only_dataset_folder_reads_without_cache(toy):
    os.chmod(toy.folder, 0o555)
    try:
        assert_equal_arrays(toy.load(), toy.decode())
        assert not os.path.exists(toy.cache_folder)
    finally:
        os.chmod(toy.folder, 0o755)


def test_a_build_racing_another_build_leaves_a_complete_cache(toy):
    """While one process decodes, another builds and commits the cache; both commits are complete and agree."""
    def build():
        toy.builds += 1
        if toy.builds == 1:
            assert_equal_arrays(toy.load(), toy.decode())  # The other builder, start to finish.
        return toy.decode()
    assert_equal_arrays(cache.load(toy.folder, 'train', [toy.source], build), toy.decode())
    assert toy.builds == 2
    assert_equal_arrays(toy.load(), toy.decode())
    assert toy.builds == 2
    assert not [name for name in os.listdir(toy.cache_folder) if name.endswith('.tmp')]


def _load_in_child(folder, source, queue):
    toy = Toy.__new__(Toy)
    toy.folder, toy.source, toy.builds = folder, source, 0
    examples, labels = toy.load()
    queue.put((examples.tobytes(), labels.tobytes()))


def test_processes_building_at_once_agree(toy):
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    children = [context.Process(target=_load_in_child, args=(toy.folder, toy.source, queue)) for _ in range(4)]
    for child in children:
        child.start()
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    examples, labels = toy.decode()
    assert results == [(examples.tobytes(), labels.tobytes())] * 4
    assert_equal_arrays(toy.load(), (examples, labels))
    assert toy.builds == 0  # Served from what the children cached.
    assert sorted(name.rsplit('.', 2)[-2] for name in os.listdir(toy.cache_folder) if name.endswith('.npy')) == \
        ['examples', 'labels']


# The real datasets ------------------------------------------------------------------------------------------------


def torchvision_mnist(root, train):
    import torchvision
    data = torchvision.datasets.MNIST(os.path.join(root, 'mnist'), train=train, download=False)
    return data.data.numpy()[:, None], data.targets.numpy().astype(np.int64)


def test_mnist_from_the_cache_equals_torchvision_byte_for_byte(platform, dataset_root, monkeypatch):
    for train in (True, False):
        mnist.get_train_set(platform, False) if train else mnist.get_test_set(platform)  # Cache built (or not).
    monkeypatch.setattr(mnist, '_decode', lambda *args: pytest.fail('decoded again'))
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 0)
    for train in (True, False):
        dataset = mnist.get_train_set(platform, False) if train else mnist.get_test_set(platform)
        examples, labels = torchvision_mnist(dataset_root, train)
        assert dataset.examples.shape == (len(labels), 1, 28, 28) and dataset.examples.is_contiguous()
        assert dataset.examples.numpy().tobytes() == examples.tobytes()
        assert dataset.labels.dtype == torch.int64 and torch.equal(dataset.labels, torch.from_numpy(labels))


def test_transformations_of_a_cached_dataset_leave_the_cache_intact(platform, dataset_root):
    mnist.get_train_set(platform, False)
    dataset = mnist.get_train_set(platform, False)
    dataset.randomize_labels(seed=3, fraction=0.5)  # Writes into the labels in place.
    dataset.examples[0].fill_(255)  # A write into the mapped examples.
    dataset.subsample(seed=3, fraction=0.01)
    dataset.blur(2)
    dataset.unsupervised_rotation(seed=3)
    dataset.to('cpu')
    assert len(dataset) == 600 and dataset.num_classes == 4
    fresh = mnist.get_train_set(platform, False)
    examples, labels = torchvision_mnist(dataset_root, True)
    assert fresh.examples.numpy().tobytes() == examples.tobytes()
    assert torch.equal(fresh.labels, torch.from_numpy(labels))


def test_the_original_style_mnist_class_reads_the_cache(platform, dataset_root):
    from platforms import platform as current_platform
    mnist.get_test_set(platform)
    with current_platform.running(platform):
        dataset = mnist.Dataset.get_test_set()
    examples, labels = torchvision_mnist(dataset_root, False)
    assert dataset._examples.shape == (10000, 28, 28) and dataset._examples.dtype == torch.uint8
    assert dataset._examples.numpy().tobytes() == examples[:, 0].tobytes()
    assert dataset._labels.tolist() == labels.tolist()
    x, y = dataset[5]
    assert x.shape == (1, 28, 28) and y == labels[5]


def test_fashion_mnist_sees_a_relabelled_file_with_restored_mtime(results_root, tmp_path, monkeypatch):
    from platforms.local import Platform
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 0)  # Only the status-change time can tell.
    raw = tmp_path / 'fashion_mnist' / 'FashionMNIST' / 'raw'
    arrays = write_fashion_mnist(str(raw), 50, 10)
    platform = Platform(_root=results_root, _dataset_root=str(tmp_path), _device='cpu', _allow_download=False)
    assert fashion_mnist.get_train_set(platform, False).labels.tolist() == \
        arrays['train-labels-idx1-ubyte'].tolist()
    assert os.path.exists(os.path.join(tmp_path, 'fashion_mnist', 'open_lth_cache', 'train.json'))
    labels_file = raw / 'train-labels-idx1-ubyte'
    stat = os.stat(labels_file)
    data = bytearray(labels_file.read_bytes())
    data[8] = (data[8] + 1) % 10  # The first label, in place.
    with open(labels_file, 'r+b') as f:
        f.write(bytes(data))
    os.utime(labels_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    expected = arrays['train-labels-idx1-ubyte'].astype(np.int64)
    expected[0] = (expected[0] + 1) % 10
    assert fashion_mnist.get_train_set(platform, False).labels.tolist() == expected.tolist()


def test_fake_cifar10_from_the_cache_equals_torchvision(cifar_platform, cifar_root, monkeypatch):
    cifar10.get_test_set(cifar_platform)
    monkeypatch.setattr(cache, 'RACY_WINDOW_NS', 0)
    cifar10.get_test_set(cifar_platform)  # Trusted from now on.
    monkeypatch.setattr(cifar10, '_decode', lambda *args: pytest.fail('decoded again'))
    dataset = cifar10.get_test_set(cifar_platform)
    data = cifar10.reader_class()(root=os.path.join(cifar_root, 'cifar10'), train=False, download=False)
    assert dataset.examples.shape == (500, 3, 32, 32) and dataset.examples.is_contiguous()
    assert dataset.examples.permute(0, 2, 3, 1).numpy().tobytes() == data.data.tobytes()
    assert dataset.labels.tolist() == data.targets


def test_cifar10_file_names_are_torchvision_s():
    import torchvision
    reader = torchvision.datasets.CIFAR10
    assert cifar10.BASE_FOLDER == reader.base_folder
    assert list(cifar10.TRAIN_FILES) == [name for name, _ in reader.train_list]
    assert list(cifar10.TEST_FILES) == [name for name, _ in reader.test_list]
    assert (cifar10.META_FILE, cifar10.META_KEY) == (reader.meta['filename'], reader.meta['key'])


def test_channels_first_does_not_copy():
    examples = np.arange(2 * 3 * 4 * 5, dtype=np.uint8).reshape(2, 3, 4, 5)
    dataset = base.InMemoryDataset.channels_first(examples, np.array([0, 1]), 2, (0,) * 3, (1,) * 3)
    assert dataset.examples.data_ptr() == examples.ctypes.data and tuple(dataset.examples.shape) == (2, 3, 4, 5)


WARM_MNIST_WITHOUT_TORCHVISION = '''
import sys
from platforms.local import Platform
from datasets import mnist
from foundations.hparams import ModelHparams
from models import registry
platform = Platform(_root=sys.argv[1], _dataset_root=sys.argv[2], _device='cpu', _allow_download=False)
train, test = mnist.get_train_set(platform, False), mnist.get_test_set(platform)
model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), outputs=10)
loaded = [name for name in ('torchvision', 'PIL') if name in sys.modules]
print(len(train), len(test), sum(p.numel() for p in model.parameters()), loaded)
'''


def test_warm_mnist_and_lenet_import_no_torchvision(platform, results_root, dataset_root):
    mnist.get_train_set(platform, False)
    mnist.get_test_set(platform)  # The cache is warm.
    result = subprocess.run([sys.executable, '-c', WARM_MNIST_WITHOUT_TORCHVISION, results_root, dataset_root],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split('\n')[-2] == '60000 10000 266610 []'
