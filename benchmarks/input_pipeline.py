"""Batches per second of the in-memory input pipeline versus the original's per-sample torchvision pipeline.

Run by hand (not a test): `python benchmarks/input_pipeline.py [--batches 200] [--device cpu] [--threads N]`.

Both pipelines read the same fake CIFAR-10-shaped data (50,000 random uint8 images 32x32x3 in memory) in batches of
128 with augmentation on:
  * ours: datasets.base.Loader (one uint8 tensor on the device; per batch one gather for crop + flip, then
    normalisation as whole-batch tensor ops);
  * per-sample: a torch DataLoader (num_workers=0) over a dataset that turns each example into a PIL image and
    applies RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(...), as the original does.
It prints both rates and their ratio (the target is >= 10x). On a machine whose cores are busy with other work, torch's
intra-op threads slow the batched pipeline down a lot (every whole-batch operation waits for all its threads); pass
`--threads 1` there. Measured on the 2-core development VM (CPU, no GPU): about 800-1050 batches/s against 35-40,
i.e. 22-26x.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import base, cifar10  # noqa: E402

BATCH_SIZE = 128
NUM_EXAMPLES = 50000


class PerSampleCIFAR(torch.utils.data.Dataset):
    """The original OpenLTH's way: every __getitem__ builds a PIL image and runs the torchvision transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels
        self.transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                                    T.Normalize(cifar10.MEAN, cifar10.STD)])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def batches_per_second(batches, count: int, device: torch.device) -> float:
    """Time `count` batches drawn from the iterator `batches` (after one warm-up batch)."""
    iterator = iter(batches)
    next(iterator)
    start = time.perf_counter()
    for _ in range(count):
        x, y = next(iterator)
        x, y = x.to(device), y.to(device)
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batches', type=int, default=200, help='batches timed per pipeline (< 390)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch's intra-op threads (default: torch's choice; 1 is faster on a busy machine)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(NUM_EXAMPLES, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=NUM_EXAMPLES)

    dataset = base.InMemoryDataset(torch.from_numpy(images), labels, 10, cifar10.MEAN, cifar10.STD, augment=True)
    ours = base.Loader(dataset, BATCH_SIZE, train=True, device=device)
    ours.shuffle(0)
    ours_rate = batches_per_second(ours, args.batches, device)

    per_sample = torch.utils.data.DataLoader(PerSampleCIFAR(images, labels), batch_size=BATCH_SIZE, shuffle=True,
                                             num_workers=0, pin_memory=device.type == 'cuda')
    per_sample_rate = batches_per_second(per_sample, args.batches, device)

    print(f'device {device}, {torch.get_num_threads()} threads, batch {BATCH_SIZE}, augmentation on')
    print(f'batched in-memory pipeline : {ours_rate:10.1f} batches/s')
    print(f'per-sample torchvision     : {per_sample_rate:10.1f} batches/s')
    print(f'ratio                      : {ours_rate / per_sample_rate:10.1f}x')


if __name__ == '__main__':
    main()
