"""Helpers of the reliability tests: one finished tiny run per module, copied into each test's results folder, and
a snapshot of every file (bytes and modification time) to prove that a failed command wrote or touched nothing."""

import os
import shutil

import pytest

# A lottery run with levels 0 and 1 of a 10-unit LeNet, 2 iterations each on 1% of MNIST (about a second).
LOTTERY = ['lottery', '--default_hparams=mnist_lenet_10', '--levels=1', '--training_steps=2it',
           '--subsample_fraction=0.01', '--quiet']
TRAIN = ['train', '--default_hparams=mnist_lenet_10', '--training_steps=2ep', '--subsample_fraction=0.01',
         '--quiet']


def build(argv, root: str, dataset_root: str) -> str:
    """Run `open_lth.py <argv>` into `root` (once per module) and return `root`."""
    from cli.main import main
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OPEN_LTH_ROOT', root)
        patch.setenv('OPEN_LTH_DATASET_ROOT', dataset_root)
        patch.setenv('OPEN_LTH_OFFLINE', '1')
        assert main(['open_lth.py'] + list(argv)) == 0
    return root


def copy_run(source: str, results_root: str) -> None:
    """Copy a finished results tree into this test's (empty) results folder, keeping modification times."""
    shutil.copytree(source, results_root, copy_function=shutil.copy2)


def run_folder(results_root: str, level=None) -> str:
    """The only `main` folder of a train run, or `level_<level>/main` of the only lottery run, in results_root."""
    (experiment,) = os.listdir(results_root)
    folder = os.path.join(results_root, experiment, 'replicate_1')
    return os.path.join(folder, 'main') if level is None else os.path.join(folder, f'level_{level}', 'main')


def snapshot(root: str) -> dict:
    """{relative path: (bytes, mtime_ns)} of every file under root (hidden temporary files included)."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, root)] = (f.read(), os.stat(path).st_mtime_ns)
    return files


def assert_one_line_error(status: int, out: str, err: str, *fragments: str) -> str:
    """Exit status 2, exactly one line on stderr (`open_lth.py: error: ...`) holding every fragment, and no
    traceback anywhere. Returns the line."""
    assert status == 2, (status, out, err)
    assert 'Traceback' not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith('open_lth.py: error: '), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
