"""Data-dependent pruning under torchrun (CPU, gloo): the mask is computed once, on the primary process, from whole
global batches, so it is the single-process run's mask exactly, and every process trains that mask."""

import os
import subprocess

import pytest
import torch

from tests.platforms.test_distributed import torchrun
from tests.test_end_to_end import command, env  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def test_snip_mask_under_torchrun_equals_the_single_process_mask(env, results_root, tmp_path):  # noqa: F811
    argv = ['lottery', '--default_hparams=mnist_lenet_300_100', '--subsample_fraction=0.05', '--training_steps=3it',
            '--data_order_seed=1', '--levels=1', '--pruning_strategy=snip', '--pruning_batches=2', '--quiet']
    torchrun(argv, env)
    single_env = dict(env, OPEN_LTH_ROOT=str(tmp_path / 'single'))
    subprocess.run(command(*argv), env=single_env, check=True, capture_output=True)
    level1 = subprocess.run(command(*argv, '--display_output_location'), env=env, capture_output=True,
                            text=True).stdout.strip().replace('level_0', 'level_1')
    ours = torch.load(os.path.join(level1, 'mask.pth'), weights_only=True)
    single = torch.load(os.path.join(level1.replace(results_root, single_env['OPEN_LTH_ROOT']), 'mask.pth'),
                        weights_only=True)
    assert all(torch.equal(ours[k], single[k]) for k in single)
    assert sum(int(v.sum()) for v in ours.values()) == 266200 - 53240  # ceil(0.2 x 266200) pruned, nothing ignored
    trained = torch.load(os.path.join(level1, 'model_ep0_it3.pth'), weights_only=True)
    assert all(int(torch.count_nonzero(trained[k] * (1 - ours[k]))) == 0 for k in ours)  # Trained with that mask.
