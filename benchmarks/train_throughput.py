"""Training throughput of LeNet-300-100 on MNIST: our in-memory batched pipeline vs the original's way of loading.

The reference feeds the same training step from torchvision's MNIST dataset through a `torch.utils.data.DataLoader`
with per-sample PIL transforms (ToTensor, Normalize) and `num_workers=0`, as the original OpenLTH loads data. Both
run the same model, optimizer and number of iterations in one process; the script prints examples per second for
each and their ratio (target: >= 5x).

Run by hand: `python benchmarks/train_throughput.py [--iterations 400]`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.transforms as T  # noqa: E402

from datasets import mnist, registry  # noqa: E402
from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams  # noqa: E402
from foundations.step import Step  # noqa: E402
from models import registry as models_registry  # noqa: E402
from platforms.local import Platform  # noqa: E402
from training import train  # noqa: E402

BATCH = 128
MODEL = ModelHparams('mnist_lenet_300_100', 'kaiming_normal', 'uniform')
TRAINING = TrainingHparams('sgd', 0.1, '40ep', data_order_seed=0)


def ours(platform, iterations: int) -> float:
    """Examples per second of `training.train.train` (the real loop, no callbacks) on the in-memory loader."""
    loader = registry.get(DatasetHparams('mnist', BATCH), train=True, platform=platform)
    model = models_registry.get(MODEL, seed=0)
    folder = os.path.join(platform.root, 'throughput_ours')
    train.train(TRAINING, model, loader, folder, end_step=Step(20, loader.iterations_per_epoch),
                platform=platform)  # warm up
    start = time.perf_counter()
    train.train(TRAINING, model, loader, folder + '_timed',
                end_step=Step(iterations, loader.iterations_per_epoch), platform=platform)
    return iterations * BATCH / (time.perf_counter() - start)


def reference(platform, iterations: int) -> float:
    """Examples per second of the same step fed by a per-sample torchvision DataLoader (num_workers=0)."""
    transform = T.Compose([T.ToTensor(), T.Normalize(mnist.MEAN, mnist.STD)])
    dataset = torchvision.datasets.MNIST(os.path.join(platform.dataset_root, 'mnist'), train=True,
                                         transform=transform, download=False)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0)
    model = models_registry.get(MODEL, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def run(n):
        done = 0
        while True:
            for x, y in loader:
                optimizer.zero_grad()
                model.train()
                model.loss_criterion(model(x), y).backward()
                optimizer.step()
                done += 1
                if done == n:
                    return

    run(20)
    start = time.perf_counter()
    run(iterations)
    return iterations * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', type=int, default=400)
    args = parser.parse_args()
    platform = Platform(_root=os.path.join('/tmp', 'open_lth_benchmark'), _device='cpu')
    mnist.install_embedded_copy(platform.dataset_root)
    reference_rate = reference(platform, args.iterations)
    our_rate = ours(platform, args.iterations)
    print(f'LeNet-300-100 on MNIST, batch {BATCH}, {args.iterations} iterations, {torch.get_num_threads()} threads')
    print(f'  per-sample torchvision DataLoader (reference): {reference_rate:10.0f} examples/s')
    print(f'  open_lth in-memory batched pipeline          : {our_rate:10.0f} examples/s')
    print(f'  ratio: {our_rate / reference_rate:.2f}x (target >= 5x)')


if __name__ == '__main__':
    main()
