"""Kind 7 of issue 9: under torchrun without --data_order_seed, the processes agree on each epoch's order, so
every epoch covers every training example exactly once across processes (before: 753 distinct of 1,000)."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.distributed]

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torchrun_data_order_worker.py')


def test_two_gloo_processes_cover_each_epoch_exactly_once(tmp_path):
    output = tmp_path / 'order.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                             WORKER, str(output)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = json.loads(output.read_text())
    assert recorded['world_size'] == 2
    orders = []
    for shards in recorded['epochs']:
        assert [len(shard) for shard in shards] == [500, 500]
        seen = shards[0] + shards[1]
        assert sorted(seen) == list(range(1000))  # Every example exactly once.
        assert not set(shards[0]) & set(shards[1])
        orders.append(seen)
    assert orders[0] != orders[1]  # Still a fresh, unrepeatable order each epoch.
    assert sorted(orders[0][:100]) != list(range(100))  # Shuffled, not the identity.
