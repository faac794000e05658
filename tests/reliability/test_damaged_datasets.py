"""Kind 4 of issue 9: damaged datasets on disk are found before any result file is written, and named in one line
with the fix (delete an MNIST file to reinstall the embedded copy; where to put CIFAR-10)."""

import os
import pickle
import shutil

import numpy as np
import pytest

from datasets import mnist
from tests.conftest import run_cli
from tests.reliability.run_folders import assert_one_line_error

MNIST_LOTTERY = ['lottery', '--default_hparams=mnist_lenet_10', '--levels=1', '--training_steps=2it',
                 '--subsample_fraction=0.01', '--quiet']
CIFAR_LOTTERY = ['lottery', '--default_hparams=cifar_resnet_20', '--model_name=cifar_resnet_8_2', '--levels=1',
                 '--training_steps=2it', '--subsample_fraction=0.002', '--quiet']


@pytest.fixture(scope='module')
def installed_mnist(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mnist_root'))
    mnist.install_embedded_copy(root)
    return root


@pytest.fixture
def mnist_copy(installed_mnist, tmp_path, monkeypatch):
    root = str(tmp_path / 'datasets')
    shutil.copytree(installed_mnist, root)
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', root)
    return root


@pytest.mark.parametrize('name', list(mnist.OFFICIAL_MD5))
def test_truncated_mnist_file(mnist_copy, results_root, capsys, name):
    path = os.path.join(mnist.raw_folder(mnist_copy), name)
    with open(path, 'r+b') as f:
        f.truncate(1000)
    status, out, err = run_cli(MNIST_LOTTERY, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: it has 1000 bytes where the official MNIST file '
                          f'has {mnist.OFFICIAL_SIZE[name]}', 'delete it and run the same command again to '
                          'reinstall the embedded MNIST')
    assert not os.path.exists(results_root)  # Not even hparams.log.
    assert os.path.getsize(path) == 1000  # Left for the user to delete.


def test_mnist_file_of_the_right_size_with_other_content(mnist_copy, results_root, capsys):
    path = os.path.join(mnist.raw_folder(mnist_copy), 'train-labels-idx1-ubyte')
    with open(path, 'r+b') as f:
        f.seek(5000)
        f.write(b'\x09')  # One label changed; same size, new modification time.
    status, out, err = run_cli(MNIST_LOTTERY, capsys)
    assert_one_line_error(status, out, err, f"damaged file {path}: its MD5 is not the official MNIST file's",
                          'reinstall the embedded MNIST')
    assert not os.path.exists(results_root)


def test_mnist_md5_is_computed_once_per_file(mnist_copy, monkeypatch):
    """The MD5 verdicts are cached by size and modification time: later checks only stat the files."""
    mnist.check_installed(mnist_copy)
    monkeypatch.setattr(mnist, '_md5', lambda path: pytest.fail(f'MD5 recomputed for {path}'))
    mnist.check_installed(mnist_copy)
    os.utime(os.path.join(mnist.raw_folder(mnist_copy), 't10k-labels-idx1-ubyte'), ns=(1, 1))  # "Changed".
    with pytest.raises(pytest.fail.Exception, match='t10k-labels-idx1-ubyte'):
        mnist.check_installed(mnist_copy)


def write_small_cifar(folder: str, per_file: int) -> None:
    """A CIFAR-10 folder in the real format but with `per_file` images in every batch file."""
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        entry = {'data': rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8),
                 'labels': rng.integers(0, 10, size=per_file).tolist()}
        with open(os.path.join(folder, name), 'wb') as f:
            pickle.dump(entry, f)
    with open(os.path.join(folder, 'batches.meta'), 'wb') as f:
        pickle.dump({'label_names': [f'class_{i}' for i in range(10)]}, f)


def test_cifar_with_20_images_per_file(tmp_path, monkeypatch, results_root, capsys):
    batches = tmp_path / 'datasets' / 'cifar10' / 'cifar-10-batches-py'
    write_small_cifar(str(batches), per_file=20)
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', str(tmp_path / 'datasets'))
    status, out, err = run_cli(CIFAR_LOTTERY, capsys)
    assert_one_line_error(status, out, err,
                          f'damaged file {batches / "data_batch_1"}: it holds 20 images where CIFAR-10 has 10000 '
                          'per file', 'replace the whole folder: put the python version of CIFAR-10 (the folder '
                          f'cifar-10-batches-py from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) at '
                          f'{batches}')
    assert not os.path.exists(results_root)


@pytest.mark.parametrize('name', ['data_batch_3', 'test_batch', 'batches.meta'])
def test_truncated_cifar_file(cifar_root, tmp_path, monkeypatch, results_root, capsys, name):
    root = tmp_path / 'datasets'
    shutil.copytree(cifar_root, root)
    path = root / 'cifar10' / 'cifar-10-batches-py' / name
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', str(root))
    status, out, err = run_cli(CIFAR_LOTTERY, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: it is not ', 'put the python version of CIFAR-10')
    assert not os.path.exists(results_root)


def test_mnist_rewritten_with_its_modification_time_restored_is_still_checked(mnist_copy, results_root, capsys):
    """The MD5 verdict also records the status-change time and inode, which no program can restore: a label changed
    in place with the old modification time put back is found before the cached (decoded) MNIST is served."""
    run_cli(MNIST_LOTTERY, capsys)  # The MD5 verdicts and the decoded cache are written.
    shutil.rmtree(results_root)
    path = os.path.join(mnist.raw_folder(mnist_copy), 'train-labels-idx1-ubyte')
    stat = os.stat(path)
    with open(path, 'r+b') as f:
        f.seek(5000)
        f.write(b'\x09' if f.read(1) != b'\x09' else b'\x08')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    status, out, err = run_cli(MNIST_LOTTERY, capsys)
    assert_one_line_error(status, out, err, f"damaged file {path}: its MD5 is not the official MNIST file's",
                          'reinstall the embedded MNIST')
    assert not os.path.exists(results_root)
