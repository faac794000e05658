"""Shared fixtures: every test gets its own result folder, datasets come from a per-session folder (MNIST from the
embedded copy), and downloads are switched off so no test can reach the network."""

import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

GOLDEN = os.path.join(REPO, 'tests', 'golden')


def load_golden(name: str):
    """A golden case file recorded on the original OpenLTH (copied from ../shared/cases; see its README.md)."""
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
