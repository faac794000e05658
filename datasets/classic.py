"""The original OpenLTH's dataset API, for dataset files written against it.

`datasets.base` re-exports these names (`Dataset`, `ImageDataset`, `ShuffleSampler`, `DistributedShuffleSampler`,
`DataLoader`), and `datasets.mnist.Dataset`, `datasets.cifar10.Dataset`, `datasets.imagenet.Dataset` subclass them
with the original's static methods. A dataset module written the original way (a `Dataset` class with
`num_train_examples()`, `num_test_examples()`, `num_classes()`, `get_train_set(use_augmentation)` and
`get_test_set()`) is registered in `datasets.registry.registered_datasets` like any other; the registry then serves
it from memory when it can (`in_memory_version`, `tensor_version`) and through the original's `DataLoader`
otherwise.

Differences from the original (README.md, "Where open_lth differs"): `blur` works (down- and up-sampling with the
image's real height and width), `unsupervised_rotation` turns each image by exactly label x 90 degrees, a seed of 0
shuffles like any other seed, and without a seed all processes of a distributed job share one order.

torchvision and PIL are imported by the methods that use them (transforms, images), not with this module: reading
the built-in datasets needs neither (importing torchvision takes a second).
"""

import abc
import math
from typing import Optional

import numpy as np
import torch
import torch.utils.data

from platforms import platform as current_platform


class Dataset(abc.ABC, torch.utils.data.Dataset):
    """Labelled examples in memory: `_examples` (numpy array, or torch tensor, as given) and `_labels` (numpy).

    Subclasses state the dataset's sizes and build its splits with static methods. `__getitem__(i)` returns
    `(examples[i], labels[i])`. Raises ValueError when the numbers of examples and labels differ.
    """

    @staticmethod
    @abc.abstractmethod
    def num_test_examples() -> int:
        """Examples in the test set."""

    @staticmethod
    @abc.abstractmethod
    def num_train_examples() -> int:
        """Examples in the training set."""

    @staticmethod
    @abc.abstractmethod
    def num_classes() -> int:
        """Distinct labels."""

    @staticmethod
    @abc.abstractmethod
    def get_train_set(use_augmentation: bool) -> 'Dataset':
        """The training set (augmented when `use_augmentation`); folders come from `get_platform()`."""

    @staticmethod
    @abc.abstractmethod
    def get_test_set() -> 'Dataset':
        """The test set."""

    def __init__(self, examples, labels):
        if examples.shape[0] != labels.shape[0]:
            raise ValueError(f'Different number of examples ({examples.shape[0]}) and labels ({labels.shape[0]}).')
        self._examples = examples
        self._labels = labels if isinstance(labels, np.ndarray) else labels.numpy()
        self._subsampled = False

    def randomize_labels(self, seed: int, fraction: float) -> None:
        """Give ceil(N x fraction) examples a random label (the streams of datasets.base.random_labels)."""
        from datasets.base import random_labels
        positions, labels = random_labels(len(self), self.num_classes(), seed, fraction)
        self._labels[positions] = labels

    def subsample(self, seed: int, fraction: float) -> None:
        """Keep ceil(N x fraction) examples (datasets.base.subsample_indices), in that order.

        Raises ValueError on a second call.
        """
        from datasets.base import subsample_indices
        if self._subsampled:
            raise ValueError('Cannot subsample more than once.')
        self._subsampled = True
        keep = subsample_indices(len(self), seed, fraction)
        self._examples = self._examples[torch.from_numpy(keep) if isinstance(self._examples, torch.Tensor) else keep]
        self._labels = self._labels[keep]

    def __len__(self) -> int:
        return self._labels.size

    def __getitem__(self, index):
        return self._examples[index], self._labels[index]

    def blur(self, blur_factor: float) -> None:
        raise ValueError('Can only blur images.')

    def unsupervised_rotation(self, seed: int) -> None:
        raise ValueError('Can only do unsupervised rotation on images.')


class ImageDataset(Dataset):
    """A Dataset of images: `example_to_image(example)` gives a PIL image, then `__getitem__` applies the joint image
    transforms `(image, label) -> (image, label)`, `image_transforms + [ToTensor()] + tensor_transforms`, and the
    joint tensor transforms, and returns `(tensor, label)`."""

    @abc.abstractmethod
    def example_to_image(self, example) -> 'PIL.Image.Image':  # noqa: F821
        """The PIL image of one stored example."""

    def __init__(self, examples, labels, image_transforms=None, tensor_transforms=None,
                 joint_image_transforms=None, joint_tensor_transforms=None):
        super().__init__(examples, labels)
        self._image_transforms = image_transforms or []
        self._tensor_transforms = tensor_transforms or []
        self._joint_image_transforms = joint_image_transforms or []
        self._joint_tensor_transforms = joint_tensor_transforms or []
        self._composed = None

    def __getitem__(self, index):
        if not self._composed:
            import torchvision
            self._composed = torchvision.transforms.Compose(
                self._image_transforms + [torchvision.transforms.ToTensor()] + self._tensor_transforms)
        example, label = self._examples[index], self._labels[index]
        example = self.example_to_image(example)
        for transform in self._joint_image_transforms:
            example, label = transform(example, label)
        example = self._composed(example)
        for transform in self._joint_tensor_transforms:
            example, label = transform(example, label)
        return example, label

    def blur(self, blur_factor: float) -> None:
        """Resize (bilinear) each image to (int(h / f), int(w / f)) and back to (h, w) before the other transforms."""
        self._image_transforms.insert(0, _Blur(blur_factor))
        self._composed = None

    def unsupervised_rotation(self, seed: int) -> None:
        """Labels become `RandomState(seed).randint(4, size=N)`; each image turns counter-clockwise by label x 90
        degrees (exactly; the original drew a random angle up to that bound)."""
        from datasets.base import rotation_labels
        self._labels = rotation_labels(len(self), seed)
        self._joint_image_transforms.append(_rotate)


class _Blur:
    def __init__(self, blur_factor: float):
        self.blur_factor = blur_factor

    def __call__(self, image: 'PIL.Image.Image') -> 'PIL.Image.Image':  # noqa: F821
        import torchvision.transforms.functional
        w, h = image.size
        small = torchvision.transforms.functional.resize(image, [int(h / self.blur_factor), int(w / self.blur_factor)])
        return torchvision.transforms.functional.resize(small, [h, w])


def _rotate(image: 'PIL.Image.Image', label):  # noqa: F821
    from PIL import Image
    turns = int(label)
    quarter_turns = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
    return (image.transpose(quarter_turns[turns]) if turns else image), label


# Samplers and the loader ------------------------------------------------------------------------------------------


def _permutation(n: int, seed: Optional[int]) -> torch.Tensor:
    """The epoch order: identity for seed -1, `randperm` from `manual_seed(seed)`, or unrepeatable for None."""
    if seed == -1:
        return torch.arange(n)
    if seed is None:
        return torch.randperm(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class ShuffleSampler(torch.utils.data.Sampler):
    """Identity order until `shuffle_dataorder(seed)`; then a permutation of `manual_seed(seed)` (None:
    unrepeatable)."""

    def __init__(self, num_examples: int):
        self._num_examples = num_examples
        self._seed = -1

    def __iter__(self):
        return iter(_permutation(self._num_examples, self._seed).tolist())

    def __len__(self) -> int:
        return self._num_examples

    def shuffle_dataorder(self, seed: Optional[int]) -> None:
        self._seed = seed


class DistributedShuffleSampler(torch.utils.data.distributed.DistributedSampler):
    """The ShuffleSampler's order, then this process's strided shard `rank::world_size`. Without a seed, rank 0
    draws one and every process uses it."""

    def __init__(self, dataset, platform=None):
        platform = current_platform.resolve(platform)
        super().__init__(dataset, num_replicas=platform.world_size, rank=platform.rank)
        self._seed = -1

    def __iter__(self):
        seed = self._seed
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, ()))
            if torch.distributed.is_initialized():
                shared = torch.tensor([seed], dtype=torch.int64)
                torch.distributed.broadcast(shared, 0)
                seed = int(shared)
        indices = _permutation(len(self.dataset), seed)
        return iter(indices[self.rank:len(indices):self.num_replicas].tolist())

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))

    def shuffle_dataorder(self, seed: Optional[int]) -> None:
        self._seed = seed


class DataLoader(torch.utils.data.DataLoader):
    """The original's loader: a torch DataLoader over `dataset` in the sampler's order, default collation, the last
    batch kept. On a distributed platform each process loads its shard, with batch_size and num_workers divided by
    the world size. `iterations_per_epoch` = ceil(len(dataset) / batch_size) with the global batch size.
    `platform` (keyword) defaults to the running job's."""

    def __init__(self, dataset, batch_size: int, num_workers: int, pin_memory: bool = True, *, platform=None):
        platform = current_platform.resolve(platform)
        self._global_batch_size = batch_size
        self._num_examples = len(dataset)
        if platform.is_distributed:
            self._sampler = DistributedShuffleSampler(dataset, platform)
            batch_size //= platform.world_size
            num_workers //= platform.world_size
        else:
            self._sampler = ShuffleSampler(len(dataset))
        super().__init__(dataset, batch_size, sampler=self._sampler, num_workers=num_workers,
                         pin_memory=pin_memory and platform.torch_device.type == 'cuda')

    def shuffle(self, seed: Optional[int]) -> None:
        self._sampler.shuffle_dataorder(seed)

    @property
    def iterations_per_epoch(self) -> int:
        return math.ceil(self._num_examples / self._global_batch_size)

    def global_batch_size(self, iteration: int) -> int:
        """Examples in global batch `iteration` over all processes."""
        return min(self._global_batch_size, self._num_examples - iteration * self._global_batch_size)


# Serving original-style datasets from memory ---------------------------------------------------------------------


def _as_tensor(examples) -> Optional[torch.Tensor]:
    if isinstance(examples, torch.Tensor):
        return examples
    if isinstance(examples, np.ndarray) and examples.dtype.kind in 'biuf':
        return torch.from_numpy(examples)
    return None


def _crop_and_flip(image_transforms, height: int, width: int) -> Optional[tuple]:
    """(augment, padding) if the image transforms are exactly none, or a random crop to the image's size with zero
    padding plus a random horizontal flip (in either order); None otherwise."""
    if not image_transforms:
        return False, 0
    import torchvision
    kinds = {type(t) for t in image_transforms}
    if len(image_transforms) != 2 or kinds != {torchvision.transforms.RandomCrop,
                                               torchvision.transforms.RandomHorizontalFlip}:
        return None
    crop = next(t for t in image_transforms if isinstance(t, torchvision.transforms.RandomCrop))
    flip = next(t for t in image_transforms if isinstance(t, torchvision.transforms.RandomHorizontalFlip))
    padding = crop.padding
    if (flip.p != 0.5 or tuple(crop.size) != (height, width) or not isinstance(padding, int) or crop.fill != 0
            or crop.padding_mode != 'constant' or crop.pad_if_needed):
        return None
    return True, padding


def _normalization(tensor_transforms, channels: int) -> Optional[tuple]:
    """(mean, std) of the tensor transforms if they are nothing or one Normalize; None otherwise."""
    if not tensor_transforms:
        return (0.0,) * channels, (1.0,) * channels
    import torchvision
    if len(tensor_transforms) != 1 or not isinstance(tensor_transforms[0], torchvision.transforms.Normalize):
        return None
    normalize = tensor_transforms[0]
    mean, std = list(np.broadcast_to(normalize.mean, channels)), list(np.broadcast_to(normalize.std, channels))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def in_memory_version(dataset):
    """The `datasets.base.InMemoryDataset` that serves an original-style ImageDataset through the fast batched
    loader, or None when it cannot be served that way.

    It can when `__getitem__` is ImageDataset's, the examples are a uint8 tensor or array (N, H, W) or (N, H, W, C),
    `example_to_image` gives exactly those pixels (checked on the first and last example), there are no joint
    transforms, the image transforms are none or RandomCrop(size of the image, padding=p) + RandomHorizontalFlip(),
    and the tensor transforms are none or one Normalize. The dataset transformations (random labels, subsampling,
    blur, rotation) are then applied to the in-memory copy, with the same random streams.
    """
    from datasets.base import InMemoryDataset
    if not isinstance(dataset, ImageDataset) or type(dataset).__getitem__ is not ImageDataset.__getitem__:
        return None
    examples = _as_tensor(dataset._examples)
    if (examples is None or examples.dtype != torch.uint8 or examples.dim() not in (3, 4) or len(examples) == 0
            or dataset._joint_image_transforms or dataset._joint_tensor_transforms):
        return None
    channels = 1 if examples.dim() == 3 else examples.shape[3]
    augmentation = _crop_and_flip(dataset._image_transforms, examples.shape[1], examples.shape[2])
    normalization = _normalization(dataset._tensor_transforms, channels)
    if augmentation is None or normalization is None:
        return None
    import torchvision
    for i in (0, len(examples) - 1):
        try:
            pixels = torchvision.transforms.functional.pil_to_tensor(dataset.example_to_image(dataset._examples[i]))
        except Exception:  # noqa: BLE001 - any failure means this dataset is not plain pixels
            return None
        expected = examples[i] if examples.dim() == 3 else examples[i].permute(2, 0, 1)
        if pixels.shape != expected.reshape(channels, *examples.shape[1:3]).shape or \
                not torch.equal(pixels, expected.reshape(pixels.shape)):
            return None
    augment, padding = augmentation
    mean, std = normalization
    return InMemoryDataset(examples, dataset._labels, type(dataset).num_classes(), mean, std, augment=augment,
                           crop_padding=padding)


def tensor_version(dataset):
    """(examples tensor (N, ...), labels int64 (N,)) of an original-style Dataset that is not an ImageDataset and
    whose `__getitem__` is the base one, when its examples are a numeric tensor or array; None otherwise."""
    if not isinstance(dataset, Dataset) or isinstance(dataset, ImageDataset):
        return None
    if type(dataset).__getitem__ is not Dataset.__getitem__:
        return None
    examples = _as_tensor(dataset._examples)
    if examples is None:
        return None
    return examples, torch.as_tensor(np.asarray(dataset._labels), dtype=torch.int64)
