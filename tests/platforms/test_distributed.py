"""Several processes with torchrun on the CPU (gloo): same folders, same results, whole test set evaluated once."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.test_end_to_end import checkpoint_epoch, command, env  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

TRAIN = ['train', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.05', '--training_steps=2ep',
         '--data_order_seed=1', '--quiet']


def torchrun(args, env, processes=2, check=True):  # noqa: F811
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={processes}',
           os.path.join(REPO, 'open_lth.py')] + list(args)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_logger(location):
    rows = [line.split(',') for line in open(os.path.join(location, 'logger')).read().splitlines()]
    return [(name, int(it), float(value)) for name, it, value in rows]


def assert_loggers_close(a, b):
    assert [(n, i) for n, i, _ in a] == [(n, i) for n, i, _ in b]
    for (name, _, x), (_, _, y) in zip(a, b):
        assert x == pytest.approx(y, rel=1e-4, abs=2e-4), name


def test_two_processes_train_like_one(env, results_root, tmp_path):  # noqa: F811
    location = subprocess.run(command(*TRAIN, '--display_output_location'), env=env, capture_output=True,
                              text=True).stdout.strip()
    single_env = dict(env, OPEN_LTH_ROOT=str(tmp_path / 'single'))
    subprocess.run(command(*TRAIN), env=single_env, check=True, capture_output=True)
    torchrun(TRAIN, env)

    assert sorted(os.listdir(location)) == ['checkpoint.pth', 'hparams.json', 'hparams.log', 'logger',
                                            'model_ep0_it0.pth', 'model_ep2_it0.pth']
    ours = read_logger(location)
    assert [v for n, _, v in ours if n == 'test_examples'] == [10000.0] * 3  # Shards add up to the test set.
    assert_loggers_close(ours, read_logger(location.replace(results_root, single_env['OPEN_LTH_ROOT'])))

    import torch
    saved = torch.load(os.path.join(location, 'model_ep2_it0.pth'), weights_only=True)
    assert not any(k.startswith('module.') for k in saved)
    checkpoint = torch.load(os.path.join(location, 'checkpoint.pth'), weights_only=True)
    assert not any(k.startswith('module.') for k in checkpoint['model_state_dict'])


def test_two_processes_lottery(env, results_root, tmp_path):  # noqa: F811
    argv = ['lottery', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.05', '--training_steps=5it',
            '--data_order_seed=1', '--levels=1', '--quiet']
    torchrun(argv, env)
    single_env = dict(env, OPEN_LTH_ROOT=str(tmp_path / 'single'))
    subprocess.run(command(*argv), env=single_env, check=True, capture_output=True)
    level0 = subprocess.run(command(*argv, '--display_output_location'), env=env, capture_output=True,
                            text=True).stdout.strip()
    for level in (0, 1):
        ours = level0.replace('level_0', f'level_{level}')
        assert_loggers_close(read_logger(ours), read_logger(ours.replace(results_root, single_env['OPEN_LTH_ROOT'])))
    assert open(os.path.join(level0.replace('level_0', 'level_1'), 'sparsity_report.json')).read() == \
        '{\n    "total": 266200.0,\n    "unpruned": 212959.0\n}'


def _children(pid):
    out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _rank_of(pid):
    try:
        environ = open(f'/proc/{pid}/environ', 'rb').read().split(b'\0')
    except OSError:
        return None
    for item in environ:
        if item.startswith(b'RANK='):
            return int(item[5:])
    return None


def test_killing_one_rank_fails_the_job_and_a_rerun_resumes(env, results_root):  # noqa: F811
    argv = TRAIN[:2] + ['--training_steps=3ep', '--data_order_seed=1', '--quiet']  # Full MNIST: 469 it/ep.
    location = subprocess.run(command(*argv, '--display_output_location'), env=env, capture_output=True,
                              text=True).stdout.strip()
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
           os.path.join(REPO, 'open_lth.py')] + argv
    launcher = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = os.path.join(location, 'checkpoint.pth')
    while checkpoint_epoch(checkpoint) < 1:
        assert launcher.poll() is None, launcher.stderr.read()[-2000:]
        time.sleep(0.05)
    victim = next(p for p in _children(launcher.pid) if _rank_of(p) == 1)
    os.kill(victim, signal.SIGKILL)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode != 0
    assert 'open_lth.py FAILED' in err or 'ChildFailedError' in err
    assert not os.path.exists(os.path.join(location, 'logger'))

    torchrun(argv, env)
    logger = read_logger(location)
    assert [it for name, it, _ in logger if name == 'test_accuracy'] == [0, 469, 938, 1407]
    assert logger[-2][2] > 0.95
