"""`list` shows runs submitted to SLURM that are not finished: a synthetic results tree, a synthetic
`slurm_logs/submissions.jsonl` (as platforms/slurm.py writes it) and a fake `squeue` on PATH."""

import json
import os
import stat

from tests.conftest import run_cli

RUNNING = 'lottery_' + 'a' * 32  # replicate_1 is at level 1 (running), replicate_2 queued, replicate_3 finished.
QUEUED = 'lottery_' + 'b' * 32  # No folder yet: its only job is pending.
SQUEUE_OUTPUT = ['100_0 RUNNING', '100_1 PENDING', '100_2 PENDING', '200_0 PENDING', '999 RUNNING']


def write_logger(root, relative):
    folder = os.path.join(root, relative)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'logger'), 'w') as f:
        f.write('test_accuracy,0,0.5\n')


def record(root, job_id, experiment, replicate, levels=(0, 1), executor='slurm'):
    runs = [os.path.join(root, experiment, f'replicate_{replicate}', f'level_{level}', 'main') for level in levels]
    return json.dumps({'job_id': job_id, 'task': f'replicate_{replicate}', 'location': runs[0], 'runs': runs,
                       'executor': executor, 'submitted': '2026-11-30T22:00:00'})


def make_tree(tmp_path):
    root = str(tmp_path / 'results')
    write_logger(root, f'{RUNNING}/replicate_1/level_0/main')
    os.makedirs(os.path.join(root, RUNNING, 'replicate_1', 'level_1', 'main'))  # Level 1 is training.
    write_logger(root, f'{RUNNING}/replicate_3/level_0/main')
    write_logger(root, f'{RUNNING}/replicate_3/level_1/main')
    os.makedirs(os.path.join(root, 'slurm_logs'))
    lines = [record(root, '50_0', RUNNING, 1),  # Cancelled, then resubmitted as 100_0: the latest line wins.
             record(root, '100_0', RUNNING, 1), record(root, '100_1', RUNNING, 2),
             '{"job_id": "100_9", "task": "replicate_9", "loca',  # Damaged (cut off by a full disk): skipped.
             'not json at all', '', '["a list"]',
             record(root, '100_2', RUNNING, 3),  # Finished on disk: never shown, whatever squeue says.
             record(root, '200_0', QUEUED, 1),
             record(root, '300_0', QUEUED, 2)]  # Not in squeue any more (failed or cancelled): not shown.
    with open(os.path.join(root, 'slurm_logs', 'submissions.jsonl'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return root


def fake_squeue(tmp_path, monkeypatch):
    """An executable `squeue` (only on PATH) that prints SQUEUE_OUTPUT and appends its arguments to a file."""
    bin_folder = tmp_path / 'bin'
    bin_folder.mkdir()
    calls = tmp_path / 'squeue_calls'
    script = bin_folder / 'squeue'
    script.write_text('#!/bin/sh\necho "$@" >> ' + str(calls) + '\n' +
                      ''.join(f'echo "{line}"\n' for line in SQUEUE_OUTPUT))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', str(bin_folder))
    return calls


def list_statuses(root, capsys, *flags):
    status, out, err = run_cli(['list', f'--root={root}'] + list(flags), capsys)
    assert status == 0, err
    assert 'Traceback' not in err
    return out.splitlines()


def test_list_shows_queued_and_running_jobs_from_squeue(tmp_path, capsys, monkeypatch):
    root = make_tree(tmp_path)
    calls = fake_squeue(tmp_path, monkeypatch)

    lines = list_statuses(root, capsys)
    assert [line.split(' | ')[0] for line in lines] == [RUNNING, QUEUED]
    # The synthetic runs have no hparams file: `1 damaged` (main's hyperparameters cannot be read).
    assert lines[0].split(' | ')[-2] == ('in progress or interrupted, 1 damaged (skipped); '
                                         'replicate_1 running on SLURM (job 100_0); '
                                         'replicate_2 queued on SLURM (job 100_1)')
    assert lines[1].split(' | ')[-2] == 'empty; replicate_1 queued on SLURM (job 200_0)'
    assert calls.read_text() == '-h -r -o %i %T\n'  # One call, one line per array task.

    entries = [json.loads(line) for line in list_statuses(root, capsys, '--json')]
    assert entries[0]['slurm'] == [
        {'job_id': '100_0', 'task': 'replicate_1', 'executor': 'slurm', 'state': 'RUNNING',
         'text': 'replicate_1 running on SLURM (job 100_0)'},
        {'job_id': '100_1', 'task': 'replicate_2', 'executor': 'slurm', 'state': 'PENDING',
         'text': 'replicate_2 queued on SLURM (job 100_1)'}]
    assert [e['slurm'][0]['job_id'] for e in entries] == ['100_0', '200_0']


def test_list_without_squeue_says_state_unknown(tmp_path, capsys, monkeypatch):
    root = make_tree(tmp_path)
    empty = tmp_path / 'no_squeue'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))

    lines = list_statuses(root, capsys)
    assert [line.split(' | ')[0] for line in lines] == [RUNNING]  # Without squeue, no folder-less experiment.
    assert lines[0].split(' | ')[-2] == ('in progress or interrupted, 1 damaged (skipped); '
                                         'replicate_1 submitted (job 100_0), state unknown; '
                                         'replicate_2 submitted (job 100_1), state unknown')
    entry = json.loads(list_statuses(root, capsys, '--json')[0])
    assert [(s['job_id'], s['state']) for s in entry['slurm']] == [('100_0', None), ('100_1', None)]


def test_list_without_submissions_or_with_a_failing_squeue(tmp_path, capsys, monkeypatch):
    root = str(tmp_path / 'results')
    write_logger(root, f'{RUNNING}/replicate_1/level_0/main')
    bin_folder = tmp_path / 'bin'
    bin_folder.mkdir()
    calls = tmp_path / 'squeue_calls'
    script = bin_folder / 'squeue'
    script.write_text(f'#!/bin/sh\necho called >> {calls}\necho "slurm_load_jobs error" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', str(bin_folder))

    assert list_statuses(root, capsys)[0].split(' | ')[-2] == 'finished, 1 damaged (skipped)'  # No hparams file.
    assert not calls.exists()  # No submissions.jsonl: squeue is not called.

    os.makedirs(os.path.join(root, 'slurm_logs'))
    with open(os.path.join(root, 'slurm_logs', 'submissions.jsonl'), 'w') as f:
        f.write(record(root, '7_0', RUNNING, 2, levels=(0,)) + '\n' +
                record(root, '12345', RUNNING, 1, levels=(0,), executor='local') + '\n')
    assert list_statuses(root, capsys)[0].split(' | ')[-2] == \
        'finished, 1 damaged (skipped); replicate_2 submitted (job 7_0), state unknown'  # Replicate 1 is done.
    assert calls.read_text() == 'called\n'
