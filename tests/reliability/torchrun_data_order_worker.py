"""Run by tests/reliability/test_torchrun_data_order.py under torchrun: each process loads its shard of 1,000
examples (label = example index) for two epochs shuffled without a seed; rank 0 writes, per epoch, the example
indices every process saw (as JSON, to argv[1])."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import torch  # noqa: E402

from datasets.base import InMemoryDataset, make_loader  # noqa: E402
from platforms.local import Platform  # noqa: E402

NUM_EXAMPLES = 1000


def job(platform, output):
    dataset = InMemoryDataset(torch.zeros(NUM_EXAMPLES, 4, 4, dtype=torch.uint8), torch.arange(NUM_EXAMPLES),
                              num_classes=NUM_EXAMPLES, mean=[0.5], std=[0.5])
    loader = make_loader(dataset, 100, True, platform)
    epochs = []
    for _ in range(2):
        loader.shuffle(None)
        mine = torch.cat([labels for _, labels in loader]).tolist()
        everyone = [None] * platform.world_size
        torch.distributed.all_gather_object(everyone, mine)
        epochs.append(everyone)
    if platform.is_primary_process:
        with open(output, 'w') as f:
            json.dump({'world_size': platform.world_size, 'epochs': epochs}, f)


if __name__ == '__main__':
    platform = Platform(_device='cpu')
    platform.run_job(lambda: job(platform, sys.argv[1]))
