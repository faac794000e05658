"""The plain command with several devices visible launches its own workers (platforms/launch.py), as torchrun would:
forced on the CPU with $OPEN_LTH_PRETEND_DEVICES (gloo)."""

import os
import subprocess

import pytest

from platforms import launch
from tests.platforms.test_distributed import TRAIN, read_logger, torchrun
from tests.test_end_to_end import command, env  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def test_two_pretend_devices_train_as_torchrun_does(env, results_root, tmp_path):  # noqa: F811
    pretend = dict(env, **{launch.PRETEND_VARIABLE: '2'})
    location = subprocess.run(command(*TRAIN, '--display_output_location'), env=pretend, capture_output=True,
                              text=True).stdout
    assert location.count('\n') == 1  # Printed once, by this process: no workers for that.
    location = location.strip()
    result = subprocess.run(command(*TRAIN), env=pretend, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    torchrun_env = dict(env, OPEN_LTH_ROOT=str(tmp_path / 'torchrun'))
    torchrun(TRAIN, torchrun_env)

    reference = location.replace(results_root, torchrun_env['OPEN_LTH_ROOT'])
    assert sorted(os.listdir(location)) == sorted(os.listdir(reference))  # The same files as under torchrun,
    assert {'checkpoint.pth', 'logger', 'model_ep0_it0.pth', 'model_ep2_it0.pth'} <= set(os.listdir(location))
    ours = read_logger(location)
    assert [v for n, _, v in ours if n == 'test_examples'] == [10000.0] * 3  # Both shards, summed.
    assert ours == read_logger(reference)  # and the same metrics, exactly.


def test_bad_input_in_the_workers_is_one_line(env, results_root):  # noqa: F811
    pretend = dict(env, **{launch.PRETEND_VARIABLE: '2'})
    result = subprocess.run(command('train', '--default_hparams=cifar_resnet_20', '--training_steps=1it'),
                            env=pretend, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('open_lth.py: error: ') and 'CIFAR-10' in lines[0]


def test_one_visible_device_or_torchrun_launches_nothing(monkeypatch, platform):
    monkeypatch.setenv(launch.PRETEND_VARIABLE, '1')
    assert not launch.wants_workers(platform)
    from platforms.local import Platform
    unforced = Platform(_root=platform.root)
    assert not launch.wants_workers(unforced)
    monkeypatch.setenv(launch.PRETEND_VARIABLE, '4')
    assert launch.wants_workers(unforced) and not launch.wants_workers(platform)  # A forced device: no workers.
    monkeypatch.setenv('WORLD_SIZE', '4')
    assert not launch.wants_workers(unforced)
