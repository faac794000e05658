"""In-memory image datasets and the batched loader that feeds them to training.

Small datasets (MNIST, CIFAR-10) live on the training device as one uint8 tensor. An epoch is an index
permutation; each batch is gathered, augmented (random crop with zero padding, horizontal flip) and normalised with
a handful of whole-batch tensor operations, in the style of airbench / hlb-CIFAR10. The result equals what the
original OpenLTH's per-sample torchvision pipeline (ToTensor, Normalize, RandomCrop(padding=4),
RandomHorizontalFlip) produces for the same crop offsets and flips.

The dataset transformations of OpenLTH (random labels, subsampling, blurring, rotation labels) are applied once, to
the whole tensor, when the dataset is built (see datasets/registry.py for their order).
"""

import math
import random
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF


class Dataset:
    """A labelled image dataset held in memory.

    Args:
      examples: uint8 tensor (N, H, W) for greyscale or (N, H, W, C), pixel values 0..255.
      labels: integer tensor or array (N,).
      mean, std: per-channel normalisation constants for pixels scaled to [0, 1].
      augment: whether the training loader applies random crops (padding `crop_padding`) and horizontal flips.

    Raises ValueError when the counts of examples and labels differ.
    """

    def __init__(self, examples: torch.Tensor, labels, num_classes: int, mean: Sequence[float],
                 std: Sequence[float], augment: bool = False, crop_padding: int = 4):
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if examples.shape[0] != labels.shape[0]:
            raise ValueError(f'Different number of examples ({examples.shape[0]}) and labels ({labels.shape[0]}).')
        if examples.dtype != torch.uint8:
            raise ValueError(f'Examples must be uint8 pixels, got {examples.dtype}.')
        self.examples = examples if examples.dim() == 4 else examples.unsqueeze(-1)  # (N, H, W, C)
        self.labels = labels
        self.num_classes = num_classes
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.augment = augment
        self.crop_padding = crop_padding
        self._subsampled = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    # Transformations (OpenLTH §5.1-5.2), applied to the whole tensor --------------------------------------------

    def randomize_labels(self, seed: int, fraction: float) -> None:
        """Give ceil(N x fraction) examples a uniformly random label (which may equal the old one).

        Which examples: the first k of `np.random.RandomState(seed + 1).permutation(N)`; their new labels:
        `np.random.RandomState(seed).randint(num_classes, size=k)` (the original's exact random streams).
        """
        n = len(self)
        k = int(np.ceil(n * fraction))
        new_labels = np.random.RandomState(seed).randint(self.num_classes, size=k)
        positions = np.random.RandomState(seed + 1).permutation(n)[:k]
        self.labels[torch.as_tensor(positions, dtype=torch.int64)] = torch.as_tensor(new_labels, dtype=torch.int64)

    def subsample(self, seed: int, fraction: float) -> None:
        """Keep ceil(N x fraction) examples: the first k of `RandomState(seed + 1).permutation(N)`, in that order.

        Raises ValueError on a second call.
        """
        if self._subsampled:
            raise ValueError('Cannot subsample more than once.')
        self._subsampled = True
        n = len(self)
        k = int(np.ceil(n * fraction))
        keep = torch.as_tensor(np.random.RandomState(seed + 1).permutation(n)[:k], dtype=torch.int64)
        self.examples = self.examples[keep]
        self.labels = self.labels[keep]

    def blur(self, blur_factor: int) -> None:
        """Blur every image: resize (bilinear, antialiased) to (H // f, W // f), then back to (H, W)."""
        images = self.examples.permute(0, 3, 1, 2)  # (N, C, H, W)
        h, w = images.shape[-2:]
        small = TF.resize(images, [int(h / blur_factor), int(w / blur_factor)], antialias=True)
        self.examples = TF.resize(small, [h, w], antialias=True).permute(0, 2, 3, 1).contiguous()

    def unsupervised_rotation(self, seed: int) -> None:
        """Replace labels with `RandomState(seed).randint(4, size=N)` and rotate each image by label x 90 degrees.

        Rotations are counter-clockwise and exact (DECISIONS.md fixes the original's random angles).
        """
        labels = torch.as_tensor(np.random.RandomState(seed).randint(4, size=len(self)), dtype=torch.int64)
        examples = self.examples.clone()
        for quarter_turns in (1, 2, 3):
            chosen = labels == quarter_turns
            examples[chosen] = torch.rot90(self.examples[chosen], quarter_turns, dims=(1, 2))
        self.examples = examples
        self.labels = labels
        self.num_classes = 4

    # Device ---------------------------------------------------------------------------------------------------

    def to(self, device) -> 'Dataset':
        """Move the tensors to `device` (in place); returns self."""
        self.examples = self.examples.to(device)
        self.labels = self.labels.to(device)
        return self


class Loader:
    """Iterates over a Dataset in batches: `for x, y in loader` with x float32 (B, C, H, W) and y int64 (B,).

    The order is the identity until `shuffle(seed)` is called; then it is `torch.randperm(N)` drawn from a generator
    seeded with `seed` (unrepeatable when seed is None). Augmentation draws come from a second generator derived from
    the same seed, so `data_order_seed` fixes both the data order and the augmentation of every epoch.

    With world_size > 1, this process sees its share of every global batch: positions `rank::world_size` of the
    batch, so the shards of all processes cover the epoch exactly once and each global batch is the same one a
    single process would draw. `iterations_per_epoch` = ceil(N / batch_size) (the last batch may be partial).
    """

    def __init__(self, dataset: Dataset, batch_size: int, train: bool, device='cpu', rank: int = 0,
                 world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        self.dataset = dataset.to(device)
        self.batch_size = batch_size
        self.augment = train and dataset.augment
        self.device = torch.device(device)
        self.rank = rank
        self.world_size = world_size
        self._order: Optional[torch.Tensor] = None
        self._augmentation_generator: Optional[torch.Generator] = None
        channels = dataset.examples.shape[-1]
        self._mean = torch.tensor(dataset.mean, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self._std = torch.tensor(dataset.std, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)

    @property
    def iterations_per_epoch(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __len__(self) -> int:
        return self.iterations_per_epoch

    @property
    def num_examples(self) -> int:
        """Examples this process sees in one pass (its shard, when distributed)."""
        n = len(self.dataset)
        return len(range(self.rank, n, self.world_size)) if self.world_size > 1 else n

    def shuffle(self, seed: Optional[int]) -> None:
        """Fix the order (and augmentation) of the next pass; seed None draws an unrepeatable order."""
        if seed is None:
            seed = random.SystemRandom().getrandbits(62)
        generator = torch.Generator().manual_seed(seed)
        self._order = torch.randperm(len(self.dataset), generator=generator)
        self._augmentation_generator = torch.Generator().manual_seed(seed + 1)

    def global_batches(self) -> Iterator[torch.Tensor]:
        """Example indices (CPU, int64) of each global batch of the current pass."""
        order = self._order if self._order is not None else torch.arange(len(self.dataset))
        return iter(order.split(self.batch_size))

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for _, batch in self.batches():
            yield batch

    def batches(self, start: int = 0) -> Iterator[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]:
        """(iteration, (x, y)) for every batch of the pass from iteration `start` on.

        Skipped batches still consume their augmentation draws, so batch `it` is the same whatever `start` is.
        """
        generator = self._augmentation_generator or torch.Generator().manual_seed(0)
        for it, indices in enumerate(self.global_batches()):
            crops, flips = self._draw_augmentation(len(indices), generator) if self.augment else (None, None)
            if it < start:
                continue
            if self.world_size > 1:
                share = slice(self.rank, None, self.world_size)
                indices = indices[share]
                crops, flips = (crops[share], flips[share]) if self.augment else (None, None)
            yield it, self.make_batch(indices.to(self.device), crops, flips)

    def _draw_augmentation(self, n: int, generator: torch.Generator):
        """Crop offsets (n, 2) uniform in [0, 2 x padding] and flip flags (n,) with probability 0.5."""
        p = self.dataset.crop_padding
        crops = torch.randint(0, 2 * p + 1, (n, 2), generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5
        return crops, flips

    def make_batch(self, indices: torch.Tensor, crops: Optional[torch.Tensor] = None,
                   flips: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gather, augment and normalise one batch. indices: (B,); crops: (B, 2) offsets; flips: (B,) bool."""
        images = self.dataset.examples[indices]  # (B, H, W, C) uint8
        if crops is not None:
            images = random_crop(images, crops.to(self.device), self.dataset.crop_padding)
            images = torch.where(flips.to(self.device).view(-1, 1, 1, 1), images.flip(2), images)
        x = images.permute(0, 3, 1, 2).float().div(255).sub(self._mean).div(self._std)
        return x.contiguous(), self.dataset.labels[indices]


def random_crop(images: torch.Tensor, offsets: torch.Tensor, padding: int) -> torch.Tensor:
    """Crop each (H, W) image out of its zero-padded version at its own offset.

    images: (B, H, W, C); offsets: (B, 2) int (row, column) in [0, 2 x padding]. Equivalent to torchvision's
    `RandomCrop(H, padding=padding)` on every image with the given offsets. Returns (B, H, W, C).
    """
    b, h, w, _ = images.shape
    padded = F.pad(images, (0, 0, padding, padding, padding, padding))  # (B, H+2p, W+2p, C), zeros
    rows = offsets[:, 0:1] + torch.arange(h, device=images.device)  # (B, H)
    cols = offsets[:, 1:2] + torch.arange(w, device=images.device)  # (B, W)
    batch = torch.arange(b, device=images.device).view(b, 1, 1)
    return padded[batch, rows.view(b, h, 1), cols.view(b, 1, w)]
