"""training.train.check_files while another process of the job writes into the same folder."""

import os

from foundations.io import atomic_write_text, is_being_written
from training import train


def test_a_temporary_file_renamed_away_meanwhile_is_skipped(tmp_path, monkeypatch):
    """Under torchrun the primary process writes (temp file, then rename) while the others check the folder; a
    temporary file listed and gone before it is looked at must not fail them (it did: FileNotFoundError, 1 in 30
    2-process runs)."""
    folder = str(tmp_path)
    atomic_write_text(os.path.join(folder, 'hparams.json'), '{}')
    vanished = '.hparams.json.k2j4ab.tmp'
    listdir = os.listdir
    monkeypatch.setattr(os, 'listdir', lambda path: listdir(path) + [vanished] if path == folder else listdir(path))
    assert sorted(os.listdir(folder)) == [vanished, 'hparams.json']
    train.check_files(folder)  # No FileNotFoundError for the vanished temporary file.
    mtime = os.stat(tmp_path / 'hparams.json').st_mtime_ns
    assert train._checked_folders[(folder, None)] == (('hparams.json', 2, mtime),)


def test_what_counts_as_a_file_being_written():
    assert is_being_written('.checkpoint.pth.x8f_2k.tmp')
    assert not is_being_written('checkpoint.pth') and not is_being_written('.hidden') and not is_being_written('a.tmp')
