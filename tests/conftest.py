"""Shared fixtures: every test gets its own result folder, datasets come from a per-session folder (MNIST from the
embedded copy), and downloads are switched off so no test can reach the network."""

import json
import os
import pickle
import sys

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # As open_lth.py does, before torch loads.

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

GOLDEN = os.path.join(REPO, 'tests', 'golden')
FAKE_CIFAR_TEST_SIZE = 500


def write_cifar10(folder: str, num_test: int = FAKE_CIFAR_TEST_SIZE, seed: int = 0) -> None:
    """A fake CIFAR-10 in the python format: `folder/cifar-10-batches-py/` with data_batch_1..5 (10,000 random
    images each: the real training-set size), test_batch (`num_test` images) and batches.meta. Each batch is a
    pickle of {'data': (n, 3072) uint8 rows in CHW order, 'labels': list of ints}."""
    rng = np.random.default_rng(seed)
    target = os.path.join(folder, 'cifar-10-batches-py')
    os.makedirs(target)
    batches = [(f'data_batch_{i}', 10000) for i in range(1, 6)] + [('test_batch', num_test)]
    for name, n in batches:
        entry = {'batch_label': name, 'data': rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 'labels': rng.integers(0, 10, size=n).tolist()}
        with open(os.path.join(target, name), 'wb') as f:
            pickle.dump(entry, f, protocol=4)
    with open(os.path.join(target, 'batches.meta'), 'wb') as f:
        pickle.dump({'label_names': [f'class_{i}' for i in range(10)], 'num_cases_per_batch': 10000}, f, protocol=4)


def load_golden(name: str):
    """A golden case file recorded on the original OpenLTH (see tests/golden/README.md)."""
    with open(os.path.join(GOLDEN, name)) as f:
        return json.load(f)


@pytest.fixture(scope='session')
def dataset_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp('datasets'))


@pytest.fixture(autouse=True)
def results_root(tmp_path, monkeypatch, dataset_root):
    """The platform root of this test (via $OPEN_LTH_ROOT), with the session's dataset root and no downloads."""
    root = tmp_path / 'results'
    monkeypatch.setenv('OPEN_LTH_ROOT', str(root))
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', dataset_root)
    monkeypatch.setenv('OPEN_LTH_OFFLINE', '1')
    monkeypatch.delenv('OPEN_LTH_IMAGENET_ROOT', raising=False)
    for variable in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(variable, raising=False)
    return str(root)


@pytest.fixture
def platform(results_root, dataset_root):
    """A CPU platform on this test's folders."""
    from platforms.local import Platform
    return Platform(_root=results_root, _dataset_root=dataset_root, _device='cpu', _allow_download=False)


def run_cli(argv, capsys):
    """Run `open_lth.py <argv>` in this process; returns (exit status, stdout, stderr)."""
    from cli.main import main
    status = main(['open_lth.py'] + list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope='session')
def cifar_root(tmp_path_factory):
    """A dataset root holding a fake CIFAR-10 (50,000 training images, 500 test images) in `cifar10/`."""
    root = tmp_path_factory.mktemp('fake_cifar_root')
    write_cifar10(str(root / 'cifar10'))
    return str(root)


@pytest.fixture
def cifar_platform(results_root, cifar_root):
    """A CPU platform whose dataset root has the fake CIFAR-10."""
    from platforms.local import Platform
    return Platform(_root=results_root, _dataset_root=cifar_root, _device='cpu', _allow_download=False)
