"""Kind 1 of issue 9: a broken environment. A results or dataset folder that cannot be created is one line naming
the variable, the folder and the OS reason (exit 2, nothing written); a full disk during a run keeps the last good
checkpoint and says so in one line (exit 2), and the same command resumes once there is space."""

import errno
import os

import pytest
import torch

from tests.conftest import run_cli
from tests.reliability.run_folders import TRAIN, assert_one_line_error, run_folder, snapshot

TRAIN_3_EPOCHS = ['train', '--default_hparams=mnist_lenet_10', '--training_steps=3ep', '--subsample_fraction=0.01',
                  '--quiet', '--data_order_seed=0']


@pytest.mark.parametrize('variable', ['OPEN_LTH_ROOT', 'OPEN_LTH_DATASET_ROOT'])
@pytest.mark.parametrize('where', ['under_a_file', 'is_a_file'])
def test_folder_that_cannot_be_created(tmp_path, monkeypatch, capsys, variable, where):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    folder = blocker / 'open_lth' if where == 'under_a_file' else blocker
    monkeypatch.setenv(variable, str(folder))
    before = snapshot(str(tmp_path))
    status, out, err = run_cli(TRAIN, capsys)
    assert_one_line_error(status, out, err, f'{variable}: cannot use {folder} as the ', 'Not a directory')
    assert snapshot(str(tmp_path)) == before  # Nothing written anywhere, results included.


def fail_second_checkpoint_write(monkeypatch):
    """Make the second write of a checkpoint.pth fail with ENOSPC (at fsync, as on a full disk)."""
    real_fsync = os.fsync
    writes = []

    def fsync(fd):
        if os.path.basename(os.readlink(f'/proc/self/fd/{fd}')).startswith('.checkpoint.pth.'):
            writes.append(fd)
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)
    monkeypatch.setattr(os, 'fsync', fsync)


def test_full_disk_keeps_the_last_good_checkpoint(results_root, monkeypatch, capsys):
    with monkeypatch.context() as patch:
        fail_second_checkpoint_write(patch)
        status, out, err = run_cli(TRAIN_3_EPOCHS, capsys)
    folder = run_folder(results_root)
    checkpoint = os.path.join(folder, 'checkpoint.pth')
    line = assert_one_line_error(status, out, err, f'cannot write {checkpoint}: No space left on device',
                                 f'the last good checkpoint {checkpoint} is intact', 'free some space')
    assert line.endswith('run the same command again to resume')
    assert torch.load(checkpoint, weights_only=True)['ep'] == 0  # The one written at the start of epoch 0.
    assert sorted(os.listdir(folder)) == ['checkpoint.pth', 'hparams.json', 'hparams.log',
                                          'model_ep0_it0.pth']  # No temp file.

    status, out, err = run_cli(TRAIN_3_EPOCHS, capsys)  # Space again: the same command resumes and finishes.
    assert status == 0 and err == ''
    assert 'model_ep3_it0.pth' in os.listdir(folder) and 'logger' in os.listdir(folder)
