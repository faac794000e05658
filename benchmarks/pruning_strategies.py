"""How long one level of each pruning strategy takes on LeNet-300-100 (266,200 prunable weights, output layer
ignored, 20% per level), against the target of 2% of a level's time.

Run by hand: `python benchmarks/pruning_strategies.py`. The reference is 0.9 s: 2% of one 40-epoch LeNet-300-100
level (about 45 s on two idle CPU cores, README). SNIP and GraSP score one batch of 128 random images; SynFlow
uses its default 100 iterations.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from foundations.hparams import ModelHparams  # noqa: E402
from models import registry  # noqa: E402
from pruning import registry as pruning_registry  # noqa: E402

REFERENCE_S = 0.9


def main(repeats: int = 3) -> None:
    model = registry.get(ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform'), seed=0)
    generator = torch.Generator().manual_seed(0)
    data = [(torch.randn(128, 1, 28, 28, generator=generator), torch.randint(0, 10, (128,), generator=generator))]
    for name in pruning_registry.registered_strategies:
        strategy = pruning_registry.get_strategy(name)
        hparams = strategy.get_pruning_hparams()(pruning_strategy=name, pruning_layers_to_ignore='fc.weight')
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            strategy.prune(hparams, model, None, starting_model=model, data=data)
            times.append(time.perf_counter() - start)
        print(f'{name:>16}: best {min(times) * 1000:7.1f} ms per level; ratio to the {REFERENCE_S} s reference: '
              f'{min(times) / REFERENCE_S:.3f}')
    print(f'threads: {torch.get_num_threads()}')


if __name__ == '__main__':
    main()
