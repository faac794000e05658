"""How long one level of sparse_global pruning takes on ResNet-20-sized weights (270,896 prunable weights).

Run by hand: `python benchmarks/pruning_speed.py`. The reference is one second (issue: "well under a second").
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from foundations.hparams import ModelHparams  # noqa: E402
from models import registry  # noqa: E402
from pruning import sparse_global  # noqa: E402


def main(repeats: int = 5) -> None:
    model = registry.get(ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'), seed=0)
    hparams = sparse_global.PruningHparams('sparse_global', 0.2)
    mask, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        mask = sparse_global.Strategy.prune(hparams, model, mask)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f'sparse_global on cifar_resnet_20 ({sum(v.numel() for v in mask.values())} prunable weights): '
          f'best {best * 1000:.1f} ms, median {sorted(times)[len(times) // 2] * 1000:.1f} ms '
          f'over {repeats} levels; ratio to the 1 s reference: {best / 1.0:.3f}')
    print(f'threads: {torch.get_num_threads()}')


if __name__ == '__main__':
    main()
