"""Kind 3 of issue 9: files that are not what they claim. Every `.pth` load is `weights_only=True` with no fallback;
only NumPy scalars are allowed besides PyTorch's own safe types, so checkpoints of the original OpenLTH (NumPy
learning rates in their optimizer state) still load."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

from foundations import io as result_io
from tests.conftest import run_cli
from tests.reliability.run_folders import LOTTERY, assert_one_line_error, build, copy_run, run_folder, snapshot


class CreatesAFile:
    """Unpickling this calls `open(path, 'w')`: arbitrary code, here only creating a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture(scope='module')
def finished_lottery(tmp_path_factory, dataset_root):
    return build(LOTTERY, str(tmp_path_factory.mktemp('finished_lottery')), dataset_root)


def hostile(path: str, canary: str) -> None:
    """A torch.save file shaped like our files whose unpickling would create `canary`."""
    torch.save({'model_state_dict': CreatesAFile(canary), 'fc.weight': torch.zeros(2)}, path)


def test_the_crafted_file_really_runs_code_when_fully_unpickled(tmp_path):
    canary = tmp_path / 'pwned'
    hostile(str(tmp_path / 'file.pth'), str(canary))
    torch.load(str(tmp_path / 'file.pth'), weights_only=False)
    assert canary.exists()


@pytest.mark.parametrize('level,name', [(1, 'checkpoint.pth'), (1, 'mask.pth'), (1, 'model_ep0_it2.pth'),
                                        (0, 'model_ep0_it0.pth')])
def test_hostile_result_file_is_refused_not_run(finished_lottery, results_root, capsys, tmp_path, level, name):
    copy_run(finished_lottery, results_root)
    canary = tmp_path / 'pwned'
    path = os.path.join(run_folder(results_root, level), name)
    hostile(path, str(canary))
    before = snapshot(results_root)
    status, out, err = run_cli(LOTTERY, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: it is not a plain weights file (it asks to run ',
                          'refused and not loaded')
    assert not canary.exists()
    assert snapshot(results_root) == before


def test_hostile_checkpoint_of_interrupted_run_is_refused(finished_lottery, results_root, capsys, tmp_path):
    copy_run(finished_lottery, results_root)
    level_1 = run_folder(results_root, 1)
    os.remove(os.path.join(level_1, 'model_ep0_it2.pth'))
    os.remove(os.path.join(level_1, 'logger'))
    canary = tmp_path / 'pwned'
    hostile(os.path.join(level_1, 'checkpoint.pth'), str(canary))
    status, out, err = run_cli(LOTTERY, capsys)
    assert_one_line_error(status, out, err, 'checkpoint.pth: it is not a plain weights file')
    assert not canary.exists()


def numpy1_legacy_bytes(obj) -> bytes:
    """`obj` saved as PyTorch < 1.6 (the original OpenLTH's era) saved it: the legacy (non-zip) format, with NumPy
    1's module names (`numpy.core.multiarray.scalar`) for NumPy scalars."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert b'numpy._core.multiarray' in data
    return data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray')


def original_checkpoint(model, lr):
    """A checkpoint laid out as the original OpenLTH's, with NumPy float64 learning rates (its LambdaLR schedule
    multiplies the lr by NumPy numbers) and a NumPy int step count."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.loss_criterion(model(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])).backward()
    optimizer.step()
    state = optimizer.state_dict()
    for group in state['param_groups']:
        group['lr'] = np.float64(lr)
        group['initial_lr'] = np.float64(0.1)
    return {'ep': np.int64(3), 'it': 7, 'model_state_dict': model.state_dict(), 'optimizer_state_dict': state,
            'logger': 'test_accuracy,0,0.1'}


@pytest.mark.parametrize('layout', ['numpy1_legacy', 'zip'])
def test_original_checkpoint_with_numpy_learning_rates_loads(tmp_path, layout):
    from foundations.hparams import ModelHparams
    from models import registry
    from training import checkpointing
    hparams = ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform')
    model = registry.get(hparams, seed=1)
    checkpoint = original_checkpoint(model, lr=0.025)
    path = tmp_path / 'checkpoint.pth'
    if layout == 'zip':
        torch.save(checkpoint, str(path))
    else:
        path.write_bytes(numpy1_legacy_bytes(checkpoint))
    fresh = registry.get(hparams, seed=2)
    optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    step, logger = checkpointing.restore_checkpoint(str(tmp_path), fresh, optimizer, 10)
    assert (step.ep, step.it, step.iteration) == (3, 7, 37)
    assert optimizer.param_groups[0]['lr'] == 0.025 and isinstance(optimizer.param_groups[0]['lr'], np.float64)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in model.state_dict().items())
    assert str(logger) == 'test_accuracy,0,0.1'


def test_numpy_arrays_and_other_globals_stay_refused(tmp_path):
    """Only NumPy scalars are allowed: a NumPy array (another reconstructor) is refused like any other global."""
    allowed = list(torch.serialization.get_safe_globals())  # PyTorch's and torchvision's own
    path = str(tmp_path / 'model_ep0_it0.pth')
    torch.save({'w': np.zeros(3)}, path)
    with pytest.raises(result_io.UnsafeFile, match='numpy'):
        result_io.torch_load(path)
    with open(path, 'wb') as f:
        pickle.dump({'w': os.getcwd}, f, protocol=2)  # Not even a PyTorch file, and a function besides.
    with pytest.raises(result_io.DamagedFile):
        result_io.torch_load(path)
    assert torch.serialization.get_safe_globals() == allowed  # We allowed nothing globally.
