"""In-memory image datasets and the batched loader that feeds them to training.

Small datasets (MNIST, Fashion-MNIST, CIFAR-10) live on the training device as one uint8 tensor. An epoch is an
index permutation; each batch is gathered, augmented (random crop with zero padding, horizontal flip) and normalised
with a handful of whole-batch tensor operations, in the style of airbench / hlb-CIFAR10. The result equals, bit for
bit, what the original OpenLTH's per-sample torchvision pipeline (RandomCrop(padding=4), RandomHorizontalFlip,
ToTensor, Normalize) produces for the same crop offsets and flips.

The dataset transformations of OpenLTH (random labels, subsampling, blurring, rotation labels) are applied once, to
the whole tensor, when the dataset is built (see datasets/registry.py for their order). Their random streams are the
original's (numpy `RandomState`), shared with the on-disk datasets (datasets/imagenet.py) through the functions
below, so the same seed picks the same examples and labels.
"""

import math
import random
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch

# The random streams of the dataset transformations (the original's) ------------------------------------------------


def random_labels(num_examples: int, num_classes: int, seed: int, fraction: float) -> Tuple[np.ndarray, np.ndarray]:
    """Which examples get a random label, and which label: (positions (k,), labels (k,)), both int64 numpy.

    k = ceil(num_examples x fraction). Positions: the first k of `np.random.RandomState(seed + 1).permutation(N)`;
    labels: `np.random.RandomState(seed).randint(num_classes, size=k)` (a new label may equal the old one).
    """
    k = int(np.ceil(num_examples * fraction))
    labels = np.random.RandomState(seed).randint(num_classes, size=k).astype(np.int64)
    positions = np.random.RandomState(seed + 1).permutation(num_examples)[:k].astype(np.int64)
    return positions, labels


def subsample_indices(num_examples: int, seed: int, fraction: float) -> np.ndarray:
    """The examples a subsample keeps, in this order: the first ceil(N x fraction) of
    `np.random.RandomState(seed + 1).permutation(N)` (the permutation `random_labels` uses). int64 numpy (k,)."""
    k = int(np.ceil(num_examples * fraction))
    return np.random.RandomState(seed + 1).permutation(num_examples)[:k].astype(np.int64)


def rotation_labels(num_examples: int, seed: int) -> np.ndarray:
    """Unsupervised rotation labels `RandomState(seed).randint(4, size=N)`: quarter turns counter-clockwise."""
    return np.random.RandomState(seed).randint(4, size=num_examples).astype(np.int64)


def random_seed() -> int:
    """A fresh, unrepeatable seed (for `shuffle(None)`), in [0, 2^62)."""
    return random.SystemRandom().getrandbits(62)


def shared_random_seed(world_size: int) -> int:
    """A fresh seed that every process of the job agrees on: rank 0 draws it and broadcasts it (torch.distributed,
    when a process group of `world_size` > 1 processes is running); otherwise this process's own `random_seed()`."""
    seed = random_seed()
    if world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        box = [seed]
        torch.distributed.broadcast_object_list(box, src=0)
        seed = box[0]
    return seed


# Evaluation batches -----------------------------------------------------------------------------------------------

# Float32 input bytes per evaluation batch, by device type. Evaluation (no gradients, the model in eval mode) runs on
# whole loader batches grouped into larger ones: on a GPU large batches keep the device busy; on a CPU the best size
# is small (a LeNet epoch of MNIST's test set is fastest near 500-2,000 examples, while ResNet-20 gets slower above
# 128-256 CIFAR images as its activations leave the caches), so 2 MiB there: 640 MNIST images, 128 CIFAR ones.
EVALUATION_BATCH_BYTES = {'cpu': 2 * 2 ** 20, 'cuda': 32 * 2 ** 20}
DEFAULT_EVALUATION_BATCH_BYTES = 2 * 2 ** 20


def evaluation_batch_bytes(device) -> int:
    """The input bytes per evaluation batch on `device` (`EVALUATION_BATCH_BYTES`, 2 MiB for other devices)."""
    return EVALUATION_BATCH_BYTES.get(torch.device(device).type, DEFAULT_EVALUATION_BATCH_BYTES)


def evaluation_batches(loader) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """The (x, y) batches to evaluate a model on `loader`: the loader's `evaluation_batches()` when it has them
    (ours: every example of a pass exactly once, with the pass's augmentation, in fewer and larger batches), otherwise
    the loader's own batches (any iterable loader, e.g. the original's DataLoader or ImageNet's)."""
    if hasattr(loader, 'evaluation_batches'):
        return loader.evaluation_batches()
    return iter(loader)


# In-memory datasets -----------------------------------------------------------------------------------------------


class InMemoryDataset:
    """A labelled image dataset held in memory as one uint8 tensor.

    Args:
      examples: uint8 tensor (N, H, W) for greyscale or (N, H, W, C), pixel values 0..255 (the layout of numpy,
        PIL and torchvision's dataset classes). Stored channel-first as `examples` (N, C, H, W), contiguous.
      labels: integer tensor or array (N,), stored as int64 `labels`.
      num_classes: the number of distinct labels.
      mean, std: per-channel normalisation constants for pixels scaled to [0, 1] (length C).
      augment: whether the training loader applies random crops (zero padding `crop_padding` pixels on each side)
        and horizontal flips.

    Raises ValueError when the counts of examples and labels differ, or the examples are not uint8.
    """

    def __init__(self, examples: torch.Tensor, labels, num_classes: int, mean: Sequence[float],
                 std: Sequence[float], augment: bool = False, crop_padding: int = 4):
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if examples.shape[0] != labels.shape[0]:
            raise ValueError(f'Different number of examples ({examples.shape[0]}) and labels ({labels.shape[0]}).')
        if examples.dtype != torch.uint8:
            raise ValueError(f'Examples must be uint8 pixels, got {examples.dtype}.')
        if examples.dim() == 3:
            examples = examples.unsqueeze(-1)
        self.examples = examples.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
        self.labels = labels
        self.num_classes = num_classes
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.augment = augment
        self.crop_padding = crop_padding
        self._subsampled = False

    @classmethod
    def channels_first(cls, examples: np.ndarray, labels: np.ndarray, num_classes: int, mean: Sequence[float],
                       std: Sequence[float], augment: bool = False) -> 'InMemoryDataset':
        """A dataset over uint8 examples already laid out (N, C, H, W) (e.g. memory-mapped from datasets/cache.py),
        without copying them: transformations replace `examples` with new tensors or write into writable arrays."""
        return cls(torch.from_numpy(examples).permute(0, 2, 3, 1), torch.from_numpy(labels), num_classes, mean, std,
                   augment=augment)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    # Transformations (the original's), applied to the whole tensor ---------------------------------------------------

    def randomize_labels(self, seed: int, fraction: float) -> None:
        """Give ceil(N x fraction) examples a uniformly random label (see `random_labels` for the streams)."""
        positions, new_labels = random_labels(len(self), self.num_classes, seed, fraction)
        positions, new_labels = torch.from_numpy(positions), torch.from_numpy(new_labels)
        self.labels[positions.to(self.labels.device)] = new_labels.to(self.labels.device)

    def subsample(self, seed: int, fraction: float) -> None:
        """Keep ceil(N x fraction) examples chosen by `subsample_indices`, in that order.

        Raises ValueError on a second call ('Cannot subsample more than once.').
        """
        if self._subsampled:
            raise ValueError('Cannot subsample more than once.')
        self._subsampled = True
        keep = torch.from_numpy(subsample_indices(len(self), seed, fraction)).to(self.labels.device)
        self.examples = self.examples.index_select(0, keep)
        self.labels = self.labels.index_select(0, keep)

    def blur(self, blur_factor: int, chunk_size: int = 4096) -> None:
        """Blur every image: resize (bilinear, antialiased) to (int(H / f), int(W / f)), then back to (H, W).

        This is the original's PIL `Resize` down and up (but `--blur_factor` works here: see README.md), done on the
        tensor in chunks of `chunk_size` images; pixels agree with PIL's to within a few grey levels.
        Raises ValueError when the factor would shrink an image to nothing.
        """
        h, w = self.examples.shape[2:]
        small_size = [int(h / blur_factor), int(w / blur_factor)]
        if min(small_size) < 1:
            raise ValueError(f'blur_factor {blur_factor} is too large for {h}x{w} images.')
        import torchvision.transforms.functional as TF  # Only blurring needs torchvision (a second to import).
        chunks = [TF.resize(TF.resize(chunk, small_size, antialias=True), [h, w], antialias=True)
                  for chunk in self.examples.split(chunk_size)]
        self.examples = torch.cat(chunks)

    def unsupervised_rotation(self, seed: int) -> None:
        """Replace labels with `rotation_labels(N, seed)` and rotate each image by label x 90 degrees.

        Rotations are counter-clockwise and exact (a fix of the original's random angles, see README.md); the number of
        classes becomes 4. Raises ValueError for non-square images (a quarter turn would change their shape).
        """
        h, w = self.examples.shape[2:]
        if h != w:
            raise ValueError(f'Rotation labels need square images, not {h}x{w}.')
        labels = torch.from_numpy(rotation_labels(len(self), seed)).to(self.labels.device)
        examples = self.examples.clone()
        for quarter_turns in (1, 2, 3):
            chosen = labels == quarter_turns
            examples[chosen] = torch.rot90(self.examples[chosen], quarter_turns, dims=(2, 3))
        self.examples = examples
        self.labels = labels
        self.num_classes = 4

    # Device ---------------------------------------------------------------------------------------------------

    def to(self, device) -> 'InMemoryDataset':
        """Move the tensors to `device` (in place); returns self."""
        self.examples = self.examples.to(device)
        self.labels = self.labels.to(device)
        return self


class ShardedLoader:
    """What every loader shares: the epoch's order, its shuffling and each process's share of a global batch.

    The order is the identity until `shuffle(seed)` is called; then it is `torch.randperm(N)` drawn from
    `torch.Generator().manual_seed(seed)` (an unrepeatable seed when seed is None), and the same generator draws
    the pass's augmentation (`_draw_augmentation`, by the subclass). Every pass until the next `shuffle` is
    identical, and `batches(start=k)` yields exactly the batches k.. of a full pass.

    With world_size > 1, this process sees its share of every global batch: positions `rank::world_size` of the
    batch, so the shards of all processes cover the epoch exactly once and each global batch is the one a single
    process would draw. `iterations_per_epoch` = ceil(N / batch_size) (the last batch may be partial).

    Raises ValueError for batch_size < 1 or a rank outside [0, world_size).
    """

    def __init__(self, num_examples: int, batch_size: int, train: bool, augment: bool, rank: int = 0,
                 world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        if not 0 <= rank < world_size:
            raise ValueError(f'rank must be in [0, {world_size}), got {rank}.')
        self._num_examples = num_examples
        self.batch_size = batch_size
        self.augment = train and augment
        self.rank = rank
        self.world_size = world_size
        self._order = torch.arange(num_examples)
        self._draw_augmentation(torch.Generator().manual_seed(0))

    @property
    def iterations_per_epoch(self) -> int:
        return math.ceil(self._num_examples / self.batch_size)

    def __len__(self) -> int:
        return self.iterations_per_epoch

    def global_batch_size(self, iteration: int) -> int:
        """Examples in global batch `iteration` of a pass (all processes together): batch_size, or fewer at the end."""
        return min(self.batch_size, self._num_examples - iteration * self.batch_size)

    def share(self, iteration: int) -> slice:
        """Epoch positions of this process's share of global batch `iteration`."""
        return slice(iteration * self.batch_size + self.rank,
                     min((iteration + 1) * self.batch_size, self._num_examples), self.world_size)

    @property
    def num_examples(self) -> int:
        """Examples this process sees in one pass (its shard, when distributed)."""
        return sum(len(range(*self.share(it).indices(self._num_examples))) for it in range(len(self)))

    def shuffle(self, seed: Optional[int]) -> None:
        """Fix the order and augmentation of the following passes; seed None draws an unrepeatable pass, the same
        one in every process of a distributed job (`shared_random_seed`), so the shards still cover the epoch
        exactly once. Every process must call it (a collective) when seed is None."""
        generator = torch.Generator().manual_seed(shared_random_seed(self.world_size) if seed is None else seed)
        self._order = torch.randperm(self._num_examples, generator=generator)
        self._draw_augmentation(generator)

    def _draw_augmentation(self, generator: torch.Generator) -> None:
        """Draw the augmentation of every epoch position from `generator` (after the order)."""

    def __iter__(self) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        for _, batch in self.batches():
            yield batch

    def batches(self, start: int = 0) -> Iterator[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]:
        """(iteration, (x, y)) for every batch of the pass from iteration `start` on."""
        raise NotImplementedError

    def evaluation_groups(self, example_bytes: int, batch_bytes: Optional[int] = None):
        """This process's epoch positions of a whole pass, in groups of k = max(1, batch_bytes // (batch_size x
        example_bytes)) consecutive batches: together exactly the positions `batches()` visits, each once.
        batch_bytes: default `evaluation_batch_bytes(self.device)`.

        Yields a slice (one process) or an int64 tensor of positions on `self.device` (the shares of k batches, when
        distributed).
        """
        batch_bytes = evaluation_batch_bytes(self.device) if batch_bytes is None else batch_bytes
        group = max(1, batch_bytes // max(1, self.batch_size * example_bytes))
        for first in range(0, self.iterations_per_epoch, group):
            last = min(first + group, self.iterations_per_epoch)
            if self.world_size == 1:
                yield slice(first * self.batch_size, min(last * self.batch_size, self._num_examples))
            else:
                yield torch.cat([torch.arange(*self.share(it).indices(self._num_examples))
                                 for it in range(first, last)]).to(self.device)


# Float32 bytes up to which a loader that does not augment keeps its whole dataset normalised (see Loader).
NORMALISED_COPY_BYTES = 256 * 2 ** 20


class Loader(ShardedLoader):
    """Iterates over an InMemoryDataset: `for x, y in loader` with x float32 (B, C, H, W) normalised and y int64
    (B,), both on `device`. The dataset's tensors are moved to `device` once, at construction.

    Order, augmentation draws and sharding as `ShardedLoader`: each epoch position gets its crop offsets and flip
    when the pass is shuffled (before any shuffle, drawn from seed 0), so `data_order_seed` fixes both the data
    order and the augmentation of every epoch. Per batch: one `index_select` gathers the uint8 images, one more
    crops and flips them all (see `crop_and_flip`), and three whole-batch operations normalise them exactly as
    torchvision's ToTensor + Normalize. Without augmentation, a dataset of at most NORMALISED_COPY_BYTES as float32
    (MNIST's 188 MB training set, a CIFAR-10 test set) is normalised once, at the first batch, and a batch is one
    gather of the same values: on a CPU every whole-batch operation wakes its threads, and on the 2-core VM the four
    per-batch operations took 0.17 s of a 1.6 s LeNet epoch.
    """

    def __init__(self, dataset: InMemoryDataset, batch_size: int, train: bool, device='cpu', rank: int = 0,
                 world_size: int = 1):
        self.device = torch.device(device)
        self.dataset = dataset.to(self.device)
        super().__init__(len(dataset), batch_size, train, dataset.augment, rank, world_size)
        self._order = self._order.to(self.device)
        channels = dataset.examples.shape[1]
        self._mean = torch.tensor(dataset.mean, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self._std = torch.tensor(dataset.std, dtype=torch.float32, device=self.device).view(1, channels, 1, 1)
        self._normalised_source, self._normalised_examples = None, None

    def shuffle(self, seed: Optional[int]) -> None:
        super().shuffle(seed)
        self._order = self._order.to(self.device)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) to float32 exactly as torchvision's ToTensor + Normalize: /255, - mean, / std."""
        return images.float().div_(255).sub_(self._mean).div_(self._std)

    def _normalised(self) -> Optional[torch.Tensor]:
        """The whole dataset normalised once (float32 (N, C, H, W), the values `normalise` gives per batch), when it
        takes at most NORMALISED_COPY_BYTES; None otherwise. Rebuilt if the dataset's `examples` are replaced."""
        examples = self.dataset.examples
        if self._normalised_source is not examples:
            self._normalised_source = examples
            small = examples.numel() * 4 <= NORMALISED_COPY_BYTES
            self._normalised_examples = self.normalise(examples) if small else None
        return self._normalised_examples

    def _draw_augmentation(self, generator: torch.Generator) -> None:
        """Per epoch position: crop offsets (N, 2) uniform in [0, 2 x padding] and flips (N,) with probability
        0.5; None when this loader does not augment. Drawn on the CPU, stored on the device."""
        self._crops, self._flips = None, None
        if self.augment:
            n, p = len(self.dataset), self.dataset.crop_padding
            self._crops = torch.randint(0, 2 * p + 1, (n, 2), generator=generator).to(self.device)
            self._flips = (torch.rand(n, generator=generator) < 0.5).to(self.device)

    def batches(self, start: int = 0) -> Iterator[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]:
        """(iteration, (x, y)) for every batch of the pass from iteration `start` on; x (B, C, H, W), y (B,)."""
        for it in range(start, self.iterations_per_epoch):
            share = self.share(it)
            crops, flips = (self._crops[share], self._flips[share]) if self.augment else (None, None)
            yield it, self.make_batch(self._order[share], crops, flips)

    def evaluation_batches(self, batch_bytes: Optional[int] = None) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """The examples of a whole pass (this process's share), with the pass's order and augmentation, in batches of
        about `batch_bytes` of float32 input (default: `evaluation_batch_bytes(device)`; always whole loader batches,
        at least one): `--batch_size` sets the training batches only. x (B, C, H, W), y (B,) as `batches`."""
        example_bytes = self.dataset.examples[0].numel() * 4
        for positions in self.evaluation_groups(example_bytes, batch_bytes):
            crops, flips = (self._crops[positions], self._flips[positions]) if self.augment else (None, None)
            yield self.make_batch(self._order[positions], crops, flips)

    def make_batch(self, indices: torch.Tensor, crops: Optional[torch.Tensor] = None,
                   flips: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gather, augment and normalise one batch.

        indices: (B,) example indices; crops: (B, 2) (row, column) offsets into the zero-padded image, in
        [0, 2 x padding]; flips: (B,) bool. All on the loader's device. Returns x float32 (B, C, H, W), y (B,).
        """
        labels = self.dataset.labels.index_select(0, indices)
        if crops is None and self._normalised() is not None:
            return self._normalised_examples.index_select(0, indices), labels
        images = self.dataset.examples.index_select(0, indices)  # (B, C, H, W) uint8
        if crops is not None:
            images = crop_and_flip(images, crops, flips, self.dataset.crop_padding)
        return self.normalise(images), labels


class TensorLoader(ShardedLoader):
    """Iterates over in-memory examples that are not images (any shape and dtype, e.g. feature vectors), as they
    are: `for x, y in loader` with x (B, ...) and y int64 (B,) on `device`. Order and sharding as `ShardedLoader`;
    no augmentation. Serves original-style datasets whose examples are tensors or arrays (datasets/classic.py).
    """

    def __init__(self, examples: torch.Tensor, labels: torch.Tensor, batch_size: int, train: bool, device='cpu',
                 rank: int = 0, world_size: int = 1):
        if examples.shape[0] != labels.shape[0]:
            raise ValueError(f'Different number of examples ({examples.shape[0]}) and labels ({labels.shape[0]}).')
        self.device = torch.device(device)
        self.examples = examples.to(self.device)
        self.labels = labels.to(self.device, dtype=torch.int64)
        super().__init__(int(labels.shape[0]), batch_size, train, False, rank, world_size)
        self._order = self._order.to(self.device)

    def shuffle(self, seed: Optional[int]) -> None:
        super().shuffle(seed)
        self._order = self._order.to(self.device)

    def batches(self, start: int = 0) -> Iterator[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]:
        for it in range(start, self.iterations_per_epoch):
            indices = self._order[self.share(it)]
            yield it, (self.examples.index_select(0, indices), self.labels.index_select(0, indices))

    def evaluation_batches(self, batch_bytes: Optional[int] = None) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        """As `Loader.evaluation_batches`: a whole pass in batches of about `batch_bytes` of examples."""
        example_bytes = self.examples[0].numel() * self.examples.element_size() if len(self.examples) else 1
        for positions in self.evaluation_groups(example_bytes, batch_bytes):
            indices = self._order[positions]
            yield self.examples.index_select(0, indices), self.labels.index_select(0, indices)


def make_loader(dataset: InMemoryDataset, batch_size: int, train: bool, platform) -> Loader:
    """The loader of an in-memory dataset on the platform's device and shard (the registry's default)."""
    return Loader(dataset, batch_size, train=train, device=platform.torch_device, rank=platform.rank,
                  world_size=platform.world_size)


def crop_and_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int) -> torch.Tensor:
    """Crop each (H, W) image out of its zero-padded version at its own offset, then mirror it if flipped.

    images: (B, C, H, W); offsets: (B, 2) int (row, column) in [0, 2 x padding]; flips: (B,) bool. For every image
    this equals torchvision's `hflip(crop(pad(image, padding, fill=0), row, column, H, W))` (hflip only where
    flipped), i.e. `RandomCrop(H, padding=padding)` + `RandomHorizontalFlip()` with these draws. Returns
    (B, C, H, W), same dtype.

    How: the padded images and their mirror images are laid out in one buffer, and every output row (W pixels) is
    a contiguous run of that buffer, so a single `index_select` over the view of all W-long runs copies them all.
    A flipped crop at column c is the crop of the mirrored padded image at column 2 x padding - c.
    """
    b, c, h, w = images.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    source = images.new_zeros(2, b, c, hp, wp)  # [plain, mirrored] padded images
    source[0, :, :, padding:padding + h, padding:padding + w] = images
    source[1, :, :, padding:padding + h, padding:padding + w] = images.flip(3)

    device = images.device
    image = torch.arange(b, device=device) + b * flips  # index of each sample's (possibly mirrored) image
    column = torch.where(flips, 2 * padding - offsets[:, 1], offsets[:, 1])
    first = (image * (c * hp * wp) + offsets[:, 0] * wp + column).view(b, 1, 1)  # start of output row 0
    first = first + (torch.arange(c, device=device) * (hp * wp)).view(1, c, 1) \
        + (torch.arange(h, device=device) * wp).view(1, 1, h)  # (B, C, H): start of every output row
    flat = source.view(-1)
    runs = flat.as_strided((flat.numel() - w + 1, w), (1, 1))  # runs[i] = flat[i:i + w], a view
    return runs.index_select(0, first.view(-1)).view(b, c, h, w)


# The original OpenLTH's dataset API (datasets/classic.py), under the names extension code imports from here.
from datasets.classic import (DataLoader, Dataset, DistributedShuffleSampler, ImageDataset,  # noqa: E402,F401
                              ShuffleSampler)
