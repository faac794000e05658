"""Whole commands in subprocesses on the embedded MNIST: SIGKILL and resume, reruns, and reproducibility."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def command(*args):
    return [sys.executable, os.path.join(REPO, 'open_lth.py')] + list(args)


def run(args, env, check=True):
    result = subprocess.run(command(*args), env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def env(results_root, dataset_root):
    environment = dict(os.environ)
    environment.update(OPEN_LTH_ROOT=results_root, OPEN_LTH_DATASET_ROOT=dataset_root, OPEN_LTH_OFFLINE='1',
                       PYTHONUNBUFFERED='1')
    return environment


def checkpoint_epoch(path):
    try:
        return torch.load(path, weights_only=True)['ep']
    except (FileNotFoundError, RuntimeError, EOFError):
        return -1


def kill_when(process, condition, delay):
    """SIGKILL `process` `delay` seconds after `condition()` first holds (fails if the process ends first)."""
    while not condition():
        assert process.poll() is None, 'the run finished before it could be interrupted'
        time.sleep(0.02)
    time.sleep(delay)
    assert process.poll() is None, 'the run finished before it could be interrupted'
    process.send_signal(signal.SIGKILL)
    process.wait()


TRAIN = ['train', '--default_hparams=mnist_lenet_300_100', '--training_steps=3ep', '--data_order_seed=3', '--quiet']


def test_train_killed_mid_epoch_resumes_and_matches_an_uninterrupted_run(env, results_root, tmp_path):
    location = run(TRAIN + ['--display_output_location'], env).stdout.strip()
    checkpoint = os.path.join(location, 'checkpoint.pth')

    process = subprocess.Popen(command(*TRAIN), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(process, lambda: checkpoint_epoch(checkpoint) >= 1, delay=0.3)  # Inside epoch 1.
    assert not os.path.exists(os.path.join(location, 'logger'))
    assert checkpoint_epoch(checkpoint) == 1

    run(TRAIN, env)
    resumed_logger = open(os.path.join(location, 'logger')).read()
    resumed_model = torch.load(os.path.join(location, 'model_ep3_it0.pth'), weights_only=True)

    done = run([a for a in TRAIN if a != '--quiet'], env).stdout
    assert 'Already done' in done and 'test\tep' not in done
    assert open(os.path.join(location, 'logger')).read() == resumed_logger

    env['OPEN_LTH_ROOT'] = str(tmp_path / 'uninterrupted')
    run(TRAIN, env)
    other = location.replace(results_root, env['OPEN_LTH_ROOT'])
    assert open(os.path.join(other, 'logger')).read() == resumed_logger  # Identical runs: identical loggers.
    uninterrupted = torch.load(os.path.join(other, 'model_ep3_it0.pth'), weights_only=True)
    assert all(torch.equal(v, uninterrupted[k]) for k, v in resumed_model.items())
    assert [line.split(',')[1] for line in resumed_logger.splitlines()[::3]] == ['0', '469', '938', '1407']
    assert float(resumed_logger.splitlines()[-2].split(',')[2]) > 0.95


LOTTERY = ['lottery', '--default_hparams=mnist_lenet_300_100', '--levels=3', '--training_steps=2ep',
           '--data_order_seed=0', '--quiet']


def test_lottery_killed_during_level_2_ends_like_an_uninterrupted_run(env, results_root, tmp_path):
    level0 = run(LOTTERY + ['--display_output_location'], env).stdout.strip()
    level2 = level0.replace('level_0', 'level_2')

    process = subprocess.Popen(command(*LOTTERY), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_when(process, lambda: checkpoint_epoch(os.path.join(level2, 'checkpoint.pth')) >= 1, delay=0.3)
    assert not os.path.exists(os.path.join(level2, 'logger'))
    run(LOTTERY, env)

    env['OPEN_LTH_ROOT'] = str(tmp_path / 'uninterrupted')
    run(LOTTERY, env)
    for level in range(4):
        ours = level0.replace('level_0', f'level_{level}')
        theirs = ours.replace(results_root, env['OPEN_LTH_ROOT'])
        assert open(os.path.join(ours, 'logger')).read() == open(os.path.join(theirs, 'logger')).read()
        mask, other = (torch.load(os.path.join(d, 'mask.pth'), weights_only=True) for d in (ours, theirs))
        assert all(torch.equal(v, other[k]) for k, v in mask.items())
