"""Kind 6 of issue 9: two jobs on the same run folder. The second stops with one line naming the process that
holds the folder (exit 2) or waits with --wait_for_lock; a lock left by a killed job does not block."""

import os
import signal
import subprocess
import sys
import time

import pytest

from foundations import locks
from tests.conftest import REPO, run_cli
from tests.test_end_to_end import command, env  # noqa: F401 - fixture

TRAIN = ['train', '--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_10', '--subsample_fraction=0.01',
         '--training_steps=2it', '--quiet', '--evaluate_only_at_end']
HOLDER = ('import sys, time; sys.path.insert(0, sys.argv[1]); from foundations import locks; '
          'lock = locks.RunLock(sys.argv[2]); lock.acquire(); print("held", flush=True); '
          'time.sleep(float(sys.argv[3])); lock.release(); time.sleep(600)')


def location(argv, capsys):
    status, out, err = run_cli(argv + ['--display_output_location'], capsys)
    assert status == 0, err
    return out.splitlines()[0]


def hold(folder, environment, seconds=600.0):
    """A process that holds `folder`'s lock for `seconds`, then lives on without it until killed."""
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, REPO, folder, str(seconds)], env=environment,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'held'
    return holder


def assert_one_line_error(status, err):
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith('open_lth.py: error: '), err
    assert 'Traceback' not in err


def files_under(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs) if os.path.exists(root) else []


def test_held_folder_stops_the_second_job_then_a_killed_holder_does_not_block(env, capsys):  # noqa: F811
    folder = location(TRAIN, capsys)
    holder = hold(folder, env)
    try:
        before = files_under(env['OPEN_LTH_ROOT'])
        status, out, err = run_cli(TRAIN, capsys)
        assert_one_line_error(status, err)
        assert f'{folder} is in use by another job (pid {holder.pid} on this host)' in err
        assert '--wait_for_lock' in err
        assert files_under(env['OPEN_LTH_ROOT']) == before == [locks.lock_path(folder)]  # Nothing written.
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert os.path.exists(locks.lock_path(folder))  # The killed holder's marker stays behind ...

    status, out, err = run_cli(TRAIN, capsys)  # ... and does not block: its pid is gone.
    assert status == 0, err
    assert sorted(os.listdir(folder)) == ['checkpoint.pth', 'hparams.json', 'hparams.log', 'logger',
                                          'model_ep0_it0.pth', 'model_ep0_it2.pth']
    assert not os.path.exists(locks.lock_path(folder))  # Released at the end.


def test_wait_for_lock_waits_until_the_holder_releases(env, capsys):  # noqa: F811
    folder = location(TRAIN, capsys)
    holder = hold(folder, env, seconds=1.0)
    try:
        start = time.monotonic()
        status, out, err = run_cli(TRAIN + ['--wait_for_lock'], capsys)
        assert status == 0, err
        assert err == f'Waiting for {folder}, in use by another job (pid {holder.pid} on this host) ...\n'
        assert holder.poll() is None  # It released the lock and still runs: a clean release, not a stale one.
        assert time.monotonic() - start > 0.5
    finally:
        holder.kill()
        holder.wait()
    assert 'model_ep0_it2.pth' in os.listdir(folder)


@pytest.mark.slow
def test_same_lottery_twice_the_second_names_the_first_and_a_killed_first_does_not_block(env, capsys):  # noqa: F811
    argv = ['lottery', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.05', '--training_steps=999ep',
            '--levels=1', '--quiet', '--evaluate_only_at_end']
    replicate = os.path.dirname(os.path.dirname(location(argv, capsys)))
    first = subprocess.Popen(command(*argv), env=dict(env, OMP_NUM_THREADS='1'), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not os.path.exists(locks.lock_path(replicate)):
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.05)
        status, out, err = run_cli(argv, capsys)
        assert_one_line_error(status, err)
        assert f'{replicate} is in use by another job (pid {first.pid} on this host)' in err
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert os.path.exists(locks.lock_path(replicate))  # Left behind by kill -9.
    lock = locks.RunLock(replicate)
    lock.acquire()  # Taken over at once: the recorded pid is gone.
    lock.release()


def test_lock_from_another_host_is_reported_then_taken_over_after_its_lease(tmp_path, monkeypatch):
    """A marker from a host whose processes we cannot see: reported with its age; --wait_for_lock takes it over
    once it has gone a whole lease without renewal (shortened here to 1 s)."""
    monkeypatch.setattr(locks, 'LEASE_SECONDS', 1.0)
    monkeypatch.setattr(locks, 'HEARTBEAT_SECONDS', 0.25)
    monkeypatch.setattr(locks, 'POLL_SECONDS', 0.05)
    folder = str(tmp_path / 'run')
    with open(locks.lock_path(folder), 'w') as f:
        f.write('filelock/2\npid=4242\nhost=elsewhere.example\nmode=lease\ntoken=0123456789abcdef\nduration=1.0\n')

    with pytest.raises(locks.RunLocked, match=r'in use by another job \(pid 4242 on host elsewhere.example, '
                                              r'last renewed \d+ s ago\)'):
        locks.RunLock(folder).acquire()

    lock = locks.RunLock(folder)
    start = time.monotonic()
    lock.acquire(wait=True)
    assert 0.9 < time.monotonic() - start < 30
    assert f'pid={os.getpid()}' in open(locks.lock_path(folder)).read()
    lock.release()
    assert not os.path.exists(locks.lock_path(folder))


def test_a_job_stopped_by_bad_input_leaves_no_folder_behind(results_root, capsys):
    """The lock creates the folders above the run folder; a job that stops before writing removes them again."""
    status, out, err = run_cli(['lottery_branch', 'randomly_reinitialize', '--default_hparams=mnist_lenet_300_100',
                                '--levels=0-1'], capsys)
    assert_one_line_error(status, err)
    assert 'argument --levels: level 0 of the lottery experiment' in err
    assert not os.path.exists(results_root)


def test_a_folder_that_cannot_be_locked_is_one_line(tmp_path, monkeypatch, capsys):
    """$OPEN_LTH_ROOT under a regular file: the lock file cannot be created; one line, exit 2, nothing written."""
    regular = tmp_path / 'a_file'
    regular.write_text('not a folder')
    monkeypatch.setenv('OPEN_LTH_ROOT', str(regular / 'results'))
    status, out, err = run_cli(TRAIN, capsys)
    assert_one_line_error(status, err)
    assert 'OPEN_LTH_ROOT' in err and 'Not a directory' in err
    assert regular.read_text() == 'not a folder'
