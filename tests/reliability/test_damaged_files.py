"""Kind 2 of issue 9: damaged files in a run folder.

A table of damages (text garbage, truncated to half, empty) x result files (checkpoint.pth, logger, mask.pth,
model_*.pth, sparsity_report.json in level_1/main; hparams.log in level_0/main) of a FINISHED lottery run: rerunning
the same command names the damaged file and what to do in one line, exits 2, and writes or touches nothing (the
damaged file included). Decision for files that a finished run does not need in order to rerun (hparams.log,
checkpoint.pth): they are reported the same way, because a researcher wants to know that a result folder is
damaged, and a rerun that silently rewrote or skipped them would hide it.
"""

import os

import pytest

from tests.conftest import run_cli
from tests.reliability.run_folders import (LOTTERY, TRAIN, assert_one_line_error, build, copy_run, run_folder,
                                           snapshot)

DAMAGES = {
    'text': lambda data: b'this is not a result file\n',
    'truncated': lambda data: data[:len(data) // 2],
    'empty': lambda data: b'',
}

# (file, level, the advice its message must give)
FILES = [
    ('checkpoint.pth', 1, 'delete it to restart that run from its last saved model'),
    ('logger', 1, 'restore it from a copy, or delete it and run the same command again to rebuild it from'),
    ('mask.pth', 1, 'delete it and sparsity_report.json beside it'),
    ('model_ep0_it2.pth', 1, 'restore it from a copy, or delete it'),
    ('sparsity_report.json', 1, 'delete it and mask.pth beside it'),
    ('hparams.log', 0, 'delete it, then run the same command again to rewrite it'),
]


@pytest.fixture(scope='module')
def finished_lottery(tmp_path_factory, dataset_root):
    return build(LOTTERY, str(tmp_path_factory.mktemp('finished_lottery')), dataset_root)


@pytest.fixture(scope='module')
def finished_train(tmp_path_factory, dataset_root):
    return build(TRAIN, str(tmp_path_factory.mktemp('finished_train')), dataset_root)


def damage(path: str, how: str) -> None:
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(DAMAGES[how](data))


@pytest.mark.parametrize('how', DAMAGES)
@pytest.mark.parametrize('name,level,advice', FILES, ids=[f[0] for f in FILES])
def test_damaged_file_in_finished_lottery(finished_lottery, results_root, capsys, name, level, advice, how):
    copy_run(finished_lottery, results_root)
    path = os.path.join(run_folder(results_root, level), name)
    damage(path, how)
    before = snapshot(results_root)
    status, out, err = run_cli(LOTTERY, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: ', advice)
    assert 'Already done' not in out
    assert snapshot(results_root) == before


@pytest.mark.parametrize('name', ['checkpoint.pth', 'logger', 'model_ep2_it0.pth', 'hparams.log'])
def test_damaged_file_in_finished_train_run(finished_train, results_root, capsys, name):
    copy_run(finished_train, results_root)
    path = os.path.join(run_folder(results_root), name)
    damage(path, 'truncated')
    before = snapshot(results_root)
    status, out, err = run_cli(TRAIN, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: ')
    assert snapshot(results_root) == before


@pytest.mark.parametrize('how', DAMAGES)
def test_damaged_checkpoint_of_interrupted_level_never_restarts_silently(finished_lottery, results_root, capsys, how):
    """level_1 was killed mid-training (no final model or logger yet) and its checkpoint.pth is damaged: the run
    must not start that level over from scratch; it says so and leaves every file as it is."""
    copy_run(finished_lottery, results_root)
    level_1 = run_folder(results_root, 1)
    os.remove(os.path.join(level_1, 'model_ep0_it2.pth'))
    os.remove(os.path.join(level_1, 'logger'))
    path = os.path.join(level_1, 'checkpoint.pth')
    damage(path, how)
    before = snapshot(results_root)
    status, out, err = run_cli(LOTTERY, capsys)
    assert_one_line_error(status, out, err, f'damaged file {path}: ',
                          'delete it to restart that run from its last saved model')
    assert snapshot(results_root) == before


@pytest.mark.parametrize('deleted', [
    ('model_ep0_it2.pth', 'logger', 'checkpoint.pth'),  # an interrupted level whose damaged checkpoint was deleted
    ('logger',), ('model_ep0_it2.pth',), ('mask.pth', 'sparsity_report.json')],
    ids=['checkpoint.pth', 'logger', 'model_ep0_it2.pth', 'mask.pth'])
def test_the_advice_works(finished_lottery, results_root, capsys, deleted):
    """Deleting what the message says and running the same command again recreates the files of level 1 and
    leaves every file of the finished level 0 untouched."""
    copy_run(finished_lottery, results_root)
    level_1 = run_folder(results_root, 1)
    for name in deleted:
        os.remove(os.path.join(level_1, name))
    level_0 = snapshot(run_folder(results_root, 0))
    status, out, err = run_cli(LOTTERY, capsys)
    assert status == 0 and err == ''
    assert sorted(os.listdir(level_1)) == ['checkpoint.pth', 'hparams.json', 'logger', 'mask.pth',
                                           'model_ep0_it0.pth', 'model_ep0_it2.pth', 'sparsity_report.json']
    assert snapshot(run_folder(results_root, 0)) == level_0


def test_deleting_a_damaged_hparams_log_rewrites_it(finished_lottery, results_root, capsys):
    copy_run(finished_lottery, results_root)
    path = os.path.join(run_folder(results_root, 0), 'hparams.log')
    with open(path, 'rb') as f:
        original = f.read()
    os.remove(path)
    assert run_cli(LOTTERY, capsys)[0] == 0
    with open(path, 'rb') as f:
        assert f.read() == original


@pytest.mark.parametrize('name', ['logger', 'sparsity_report.json'])
def test_summary_shows_a_damaged_level_as_damaged(finished_lottery, results_root, name):
    from lottery.runner import summary
    from models import registry
    import dataclasses
    copy_run(finished_lottery, results_root)
    damage(os.path.join(run_folder(results_root, 1), name), 'truncated')
    desc = registry.get_default_hparams('mnist_lenet_10')
    desc.dataset_hparams = dataclasses.replace(desc.dataset_hparams, subsample_fraction=0.01)
    desc.training_hparams = dataclasses.replace(desc.training_hparams, training_steps='2it')
    rows = summary(desc, results_root, 1, 1).splitlines()
    level_0 = next(row for row in rows if 'level_0' in row)
    level_1 = next(row for row in rows if 'level_1' in row)
    assert '100.00%' in level_0
    assert f'damaged: {name}' in level_1 and '%' not in level_1


@pytest.mark.parametrize('deleted', ['logger', 'model_ep2_it0.pth'])
def test_the_advice_works_when_the_checkpoint_is_at_the_end(finished_train, results_root, capsys, deleted):
    """A run that ends at an epoch boundary keeps its checkpoint at the end step, so there is no last epoch to
    retrain: deleting its logger (or final model) as the advice says and rerunning rebuilds the file, byte for byte,
    from the checkpoint (it used to leave the run unfinished for good)."""
    copy_run(finished_train, results_root)
    folder = run_folder(results_root)
    with open(os.path.join(folder, deleted), 'rb') as f:
        original = f.read()
    os.remove(os.path.join(folder, deleted))
    status, out, err = run_cli(TRAIN, capsys)
    assert status == 0 and err == ''
    with open(os.path.join(folder, deleted), 'rb') as f:
        assert f.read() == original
    status, out, err = run_cli(TRAIN[:-1], capsys)
    assert status == 0 and 'Already done' in out
