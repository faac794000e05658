"""`--platform=slurm` through submitit's local executor (the real submitit code path: pickled jobs, job arrays,
processes on this machine): sweeps give the very files local runs give, finished runs are not submitted again, a
preempted job is requeued and resumes, and bad input is refused before anything is submitted or written."""

import json
import os
import signal
import sys
import time

import pytest

from tests.conftest import run_cli
from tests.lottery.test_runner import TINY

pytest.importorskip('submitit')

SLURM_LOCAL = ['--platform=slurm', '--slurm_executor=local']
LOTTERY = ['lottery'] + TINY + ['--model_name=mnist_lenet_10', '--training_steps=3it', '--levels=1']
BRANCH = ['lottery_branch', 'randomly_prune'] + TINY + ['--model_name=mnist_lenet_10', '--training_steps=3it',
                                                        '--levels=0-1', '--seed=1']


def files(root):
    """{relative path: bytes} of every result file under `root` (submitit's own folder left out)."""
    result = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != 'slurm_logs']
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as f:
                result[os.path.relpath(path, root)] = f.read()
    return result


def run_in(root, argv, capsys, monkeypatch):
    monkeypatch.setenv('OPEN_LTH_ROOT', root)
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    return out


def test_sweeps_on_the_local_executor_equal_local_runs(tmp_path, capsys, monkeypatch):
    local_root, slurm_root = str(tmp_path / 'local'), str(tmp_path / 'slurm')

    run_in(local_root, LOTTERY + ['--replicates=1-2'], capsys, monkeypatch)
    out = run_in(slurm_root, LOTTERY + ['--replicates=1-2'] + SLURM_LOCAL, capsys, monkeypatch)
    assert [line.split(': ')[1].split(' of ')[0] for line in out.splitlines() if line.startswith('Submitted job')] \
        == ['replicate_1', 'replicate_2']
    lottery_files = files(local_root)
    assert len(lottery_files) == 2 * (8 + 7)  # level_0: 8 files with hparams.log/.json, level_1: 7, per replicate.
    assert {p.split(os.sep)[1] for p in lottery_files} == {'replicate_1', 'replicate_2'}
    assert files(slurm_root) == lottery_files
    with open(os.path.join(slurm_root, 'slurm_logs', 'submissions.jsonl')) as f:
        records = [json.loads(line) for line in f]
    assert [(r['task'], r['executor'], r['location'].split(os.sep)[-3]) for r in records] == [
        ('replicate_1', 'local', 'replicate_1'), ('replicate_2', 'local', 'replicate_2')]
    # Every level's folder, so that `list` knows when the task is finished; it is: no SLURM job listed.
    assert [[os.sep.join(run.split(os.sep)[-3:]) for run in r['runs']] for r in records] == [
        [os.path.join(f'replicate_{n}', f'level_{level}', 'main') for level in (0, 1)] for n in (1, 2)]
    listed = [json.loads(line) for line in run_in(slurm_root, ['list', '--json'], capsys, monkeypatch).splitlines()]
    assert [(entry['status'], entry['slurm']) for entry in listed] == [('finished', [])]

    # Finished commands are skipped before submission: nothing new in submitit's folder.
    submitted = sorted(os.listdir(os.path.join(slurm_root, 'slurm_logs')))
    out = run_in(slurm_root, LOTTERY + ['--replicates=1-2'] + SLURM_LOCAL, capsys, monkeypatch)
    assert [line.split(' of ')[0] for line in out.splitlines()] == ['Already done: replicate_1', 'Already done: replicate_2']
    assert sorted(os.listdir(os.path.join(slurm_root, 'slurm_logs'))) == submitted

    # A branch sweep: one array task per replicate x level.
    run_in(local_root, BRANCH + ['--replicates=1-2'], capsys, monkeypatch)
    out = run_in(slurm_root, BRANCH + ['--replicates=1-2'] + SLURM_LOCAL, capsys, monkeypatch)
    assert [line.split(': ')[1].split(' of ')[0] for line in out.splitlines() if line.startswith('Submitted job')] \
        == ['replicate_1/level_0', 'replicate_1/level_1', 'replicate_2/level_0', 'replicate_2/level_1']
    branch_files = files(local_root)
    assert len(branch_files) == len(lottery_files) + 4 * 7  # mask, report, 2 models, checkpoint, logger, hparams.json.
    assert files(slurm_root) == branch_files


def processes_running(marker: str):
    """Pids of this machine's processes whose command line contains `marker`."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if marker.encode() in f.read().replace(b'\0', b' '):  # Arguments are NUL-separated.
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def wait_for(condition, timeout=240):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, 'timed out'
        time.sleep(0.2)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='finds the job process in /proc')
def test_a_preempted_job_is_requeued_and_resumes(tmp_path, capsys, monkeypatch):
    """SLURM sends USR2 before preempting a job; submitit calls our checkpoint hook and requeues the job, which
    resumes from checkpoint.pth: the files equal an uninterrupted run's and no finished level is trained again."""
    # Levels 2-6 leave seconds of work after level 1's first checkpoint, so USR2 arrives while the job still runs.
    argv = ['lottery'] + [a for a in TINY if a != '--quiet'] + ['--model_name=mnist_lenet_10',
                                                                '--training_steps=2ep', '--levels=6']
    slurm_root, local_root = str(tmp_path / 'slurm'), str(tmp_path / 'local')
    logs = str(tmp_path / 'logs')
    out = run_in(slurm_root, argv + SLURM_LOCAL + ['--no_slurm_wait', f'--slurm_logs={logs}'], capsys, monkeypatch)
    job_id = out.split()[2].rstrip(':')

    level_1 = os.path.join(out.split(' of ')[1].strip().replace('level_0', 'level_1'))
    wait_for(lambda: os.path.exists(os.path.join(level_1, 'checkpoint.pth')))
    for pid in processes_running(f'submitit.core._submit {logs}'):
        os.kill(pid, signal.SIGUSR2)  # What SLURM sends ahead of a preemption or the time limit.
    wait_for(lambda: os.path.exists(os.path.join(logs, f'{job_id}_0_result.pkl')))

    log = open(os.path.join(logs, f'{job_id}_0_log.out')).read()
    log += open(os.path.join(logs, f'{job_id}_0_log.err')).read()
    assert 'Caught signal SIGUSR2 on' in log and 'this job is preempted' in log and 'Requeued job' in log
    assert log.count('Lottery Ticket Experiment (Replicate 1)') == 2  # Two attempts ...
    assert log.count('Pruning Level 0\n') == 1  # ... and level 0 trained only once.
    run_in(local_root, argv, capsys, monkeypatch)
    assert files(slurm_root) == files(local_root)


def error_line(argv, capsys, results_root):
    status, out, err = run_cli(argv, capsys)
    assert status == 2 and out == ''
    assert not os.path.exists(results_root)  # Nothing submitted (no submitit folder), no result folder.
    return err.strip()


@pytest.mark.parametrize('flag, message', [
    ('--slurm_time=0', 'argument --slurm_time: must be an integer >= 1, got 0'),
    ('--slurm_gpus_per_node=0', 'argument --slurm_gpus_per_node: must be an integer >= 1, got 0'),
    ('--slurm_gpus_per_node=-2', 'argument --slurm_gpus_per_node: must be an integer >= 1, got -2'),
    ('--slurm_nodes=2', 'argument --slurm_nodes: the local executor runs one node, got 2'),
    ('--slurm_executor=pbs', "argument --slurm_executor: invalid executor 'pbs'; choose from: slurm, local"),
    ('--levels=-1', 'argument --levels: must be an integer >= 0, got -1'),
    ('--replicates=3-1', "argument --replicates: invalid replicates '3-1': expected replicates >= 1 as ascending "
                         'ranges or numbers separated by commas, e.g. 1-5 or 1,3,7'),
])
def test_bad_input_is_one_line_naming_the_flag(flag, message, capsys, results_root):
    assert error_line(LOTTERY + SLURM_LOCAL + [flag], capsys, results_root) == f'open_lth.py: error: {message}'


def test_a_branch_without_its_trunk_is_not_submitted(capsys, results_root):
    message = error_line(BRANCH + SLURM_LOCAL + ['--replicates=1-2'], capsys, results_root)
    assert message.startswith('open_lth.py: error: argument --levels: level 0 of the lottery experiment in ')
    assert message.endswith('is not trained yet; run the lottery subcommand with the same flags and --levels=0 first')


def test_slurm_needs_submitit_and_sbatch(capsys, results_root, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'submitit', None)  # `import submitit` raises ImportError.
    assert error_line(LOTTERY + SLURM_LOCAL, capsys, results_root) == (
        'open_lth.py: error: argument --platform: slurm needs the submitit package (pip install submitit==1.5.4)')
    monkeypatch.delitem(sys.modules, 'submitit')
    monkeypatch.setenv('PATH', str(tmp_path))  # No sbatch.
    assert error_line(LOTTERY + ['--platform=slurm'], capsys, results_root) == (
        "open_lth.py: error: argument --platform: slurm needs SLURM's sbatch on PATH; use --slurm_executor=local "
        'to run the jobs on this machine')


def test_display_output_location_submits_nothing(capsys, results_root):
    status, out, _ = run_cli(BRANCH + SLURM_LOCAL + ['--replicates=2-3', '--display_output_location'], capsys)
    assert status == 0
    assert [line.split(os.sep)[-3:-1] for line in out.split()] == [
        ['replicate_2', 'level_0'], ['replicate_2', 'level_1'], ['replicate_3', 'level_0'], ['replicate_3', 'level_1']]
    assert not os.path.exists(results_root)


def test_slurm_flags_enter_no_hash(capsys):
    plain = run_cli(LOTTERY + ['--display_output_location'], capsys)[1]
    slurm = run_cli(LOTTERY + SLURM_LOCAL + ['--slurm_time=5', '--slurm_partition=gpu', '--slurm_gpus_per_node=8',
                                             '--slurm_cpus_per_task=10', '--slurm_account=lab', '--no_slurm_wait',
                                             '--slurm_constraint=volta', '--display_output_location'], capsys)[1]
    assert slurm == plain and plain.strip().endswith(os.path.join('replicate_1', 'level_0', 'main'))
