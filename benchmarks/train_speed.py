"""Training iterations per second of one model on fake in-memory data shaped like its dataset (no disk, no eval).

Run by hand, e.g. `python benchmarks/train_speed.py --model cifar_resnet_20 --iterations 200 --device cuda --fp16`.
Uses the real training loop (`training.train.train`), so it measures what a run would see, minus evaluation.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from datasets import base, cifar10, mnist  # noqa: E402
from foundations.hparams import ModelHparams, TrainingHparams  # noqa: E402
from foundations.step import Step  # noqa: E402
from models import registry as models_registry  # noqa: E402
from platforms.local import Platform  # noqa: E402
from training import train  # noqa: E402

SHAPES = {'mnist': ((28, 28), mnist), 'cifar10': ((32, 32, 3), cifar10)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='cifar_resnet_20')
    parser.add_argument('--iterations', type=int, default=200)
    parser.add_argument('--batch_size', type=int, default=128)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--fp16', action='store_true')
    args = parser.parse_args()

    preset = models_registry.get_default_hparams(args.model)
    shape, module = SHAPES[preset.dataset_hparams.dataset_name]
    generator = torch.Generator().manual_seed(0)
    examples = torch.randint(0, 256, (10 * args.batch_size,) + shape, dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (10 * args.batch_size,), generator=generator)
    dataset = base.InMemoryDataset(examples, labels, 10, module.MEAN, module.STD, augment=module is cifar10)
    loader = base.Loader(dataset, args.batch_size, train=True, device=args.device)

    hparams = TrainingHparams('sgd', 0.1, '1000ep', data_order_seed=0, momentum=0.9, apex_fp16=args.fp16)
    with tempfile.TemporaryDirectory() as folder:
        platform = Platform(_root=folder, _device=args.device)
        model = models_registry.get(ModelHparams(args.model, 'kaiming_normal', 'uniform'), seed=0)
        ipe = loader.iterations_per_epoch
        train.train(hparams, model, loader, os.path.join(folder, 'warmup'), end_step=Step(10, ipe), platform=platform)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        train.train(hparams, model, loader, os.path.join(folder, 'timed'),
                    end_step=Step(args.iterations, ipe), platform=platform)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    print(f'{args.model} batch {args.batch_size} on {args.device} ({"fp16" if args.fp16 else "fp32"}): '
          f'{args.iterations / elapsed:.1f} it/s, {args.iterations * args.batch_size / elapsed:.0f} examples/s')


if __name__ == '__main__':
    main()
