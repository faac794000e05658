"""ImageNet (ILSVRC-2012): 1,281,167 training and 50,000 validation images in 1,000 classes, read from disk.

Layout: `<imagenet_root>/train/<class>/<image>` and `<imagenet_root>/val/<class>/<image>` (torchvision's ImageFolder
layout; the validation images sorted into class folders like the training images). `imagenet_root` is the
platform's (`$OPEN_LTH_IMAGENET_ROOT`, default `<dataset_root>/imagenet`). A class's label is the index of its folder
in the sorted list of folders; images are every file with an image extension, sorted by name within each class, so
the sample order (and hence subsampling and random labels) is the same on every run. (The original scanned folders
in a thread pool and kept whichever order the threads finished in.)

Iterations per epoch use the official counts (as the original does), whatever is on disk; `standard_train` stops
with a clear error when the training folder is incomplete.

Preprocessing (the original's): training with augmentation `RandomResizedCrop(224, scale=(0.1, 1.0),
ratio=(0.8, 1.25))` + `RandomHorizontalFlip()`; without augmentation and for the test set `Resize(256)` +
`CenterCrop(224)`; then ToTensor and the ImageNet Normalize. Images are decoded with PIL and transformed with
torchvision's functional transforms on PIL images, exactly as the original (torchvision.io's decoders are deprecated
since torchvision 0.29), in the worker processes of a torch DataLoader (`platform.num_workers`, divided among the
processes of a distributed job as the original does).

Every image of a pass draws its crop and flip from its own generator, seeded from the pass's seed and its position in
the epoch, so with `data_order_seed` the augmentation is reproducible whatever the number of workers.

Transformations: random labels and subsampling as for every dataset; rotation labels rotate each decoded image by
exactly label x 90 degrees before augmentation; blurring down- and up-samples the 224x224 crop (after augmentation,
where the original appended it).
"""

import concurrent.futures
import math
import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

from datasets import base, classic
from datasets.errors import DatasetUnavailable
from platforms.platform import get_platform

NUM_TRAIN_EXAMPLES = 1281167
NUM_TEST_EXAMPLES = 50000
NUM_CLASSES = 1000

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
IMAGE_SIZE = 224
RESIZE = 256
CROP_SCALE = (0.1, 1.0)
CROP_RATIO = (0.8, 1.25)

EXTENSIONS = torchvision.datasets.folder.IMG_EXTENSIONS  # ('.jpg', '.jpeg', '.png', ...), compared lower-cased


# Reading the folder tree ------------------------------------------------------------------------------------------


def _unavailable(platform, detail: str) -> DatasetUnavailable:
    return DatasetUnavailable(
        f'ImageNet not found: {detail}. Put the ImageFolder trees train/ and val/ (one sub-folder of images per '
        f'class, e.g. train/n01440764/n01440764_10026.JPEG, the validation images sorted into the same class '
        f'folders) in {platform.imagenet_root}, or set OPEN_LTH_IMAGENET_ROOT to the folder that holds them')


def _image_files(class_folder: str) -> List[str]:
    """Names of the image files of one class folder, sorted."""
    with os.scandir(class_folder) as entries:
        return sorted(e.name for e in entries if e.is_file() and e.name.lower().endswith(EXTENSIONS))


def scan(split_folder: str) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(class names, relative paths, labels) of an ImageFolder tree, in sorted order.

    Class names: the sorted sub-folder names. Relative paths: numpy bytes array (N,) of `<class>/<file>` (bytes keep
    the worker processes' copy-on-write memory small). Labels: int64 (N,), the class's index.
    Raises FileNotFoundError when the folder has no class folders.
    """
    with os.scandir(split_folder) as entries:
        classes = sorted(e.name for e in entries if e.is_dir())
    if not classes:
        raise FileNotFoundError(f'no class folders in {split_folder}')
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:  # map keeps the order
        files = list(pool.map(_image_files, [os.path.join(split_folder, c) for c in classes]))
    paths = [f'{c}/{name}'.encode() for c, names in zip(classes, files) for name in names]
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(names) for names in files])
    return classes, np.array(paths, dtype=np.bytes_), labels


# Per-image preprocessing ------------------------------------------------------------------------------------------


def decode(path: str) -> Image.Image:
    """The image at `path` as an RGB PIL image (greyscale, CMYK and palette files are converted)."""
    with open(path, 'rb') as f:
        return Image.open(f).convert('RGB')


QUARTER_TURNS = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}


def random_resized_crop_box(height: int, width: int, generator: torch.Generator,
                            scale: Sequence[float] = CROP_SCALE,
                            ratio: Sequence[float] = CROP_RATIO) -> Tuple[int, int, int, int]:
    """(top, left, crop height, crop width) drawn as torchvision's RandomResizedCrop draws them, from `generator`
    (the same draws in the same order: the same box as `RandomResizedCrop.get_params` on a global RNG in that state).

    Up to 10 tries: area fraction uniform in `scale`, aspect ratio log-uniform in `ratio`; the first box that fits
    gets a uniform position. Otherwise the largest centred box whose aspect ratio is clamped into `ratio`.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator)).item()
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    aspect = width / height
    if aspect < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif aspect > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class ImageFolderDataset(torch.utils.data.Dataset):
    """Labelled images on disk, loaded and preprocessed one at a time (in DataLoader workers).

    Args:
      root: the split folder (`<imagenet_root>/train` or `/val`).
      files: numpy bytes array (N,) of paths relative to `root`.
      labels: int64 (N,) labels, stored as the torch tensor `labels`.
      num_classes: the number of classes.
      augment: random resized crops and flips (training) instead of resize + centre crop.

    Items are `dataset[(index, seed)]` -> (x float32 (3, 224, 224) normalised, label int); `seed` seeds the image's
    augmentation, and seed None means no augmentation (resize + centre crop; what test loaders ask for).
    Raises ValueError when the counts of files and labels differ.
    """

    def __init__(self, root: str, files: np.ndarray, labels, num_classes: int, augment: bool):
        labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        if len(files) != labels.shape[0]:
            raise ValueError(f'Different number of examples ({len(files)}) and labels ({labels.shape[0]}).')
        self.root = root
        self.files = files
        self.labels = labels
        self.num_classes = num_classes
        self.augment = augment
        self.quarter_turns: Optional[torch.Tensor] = None  # (N,) rotation of each image, when rotation labels
        self.blur_factor: Optional[int] = None
        self._subsampled = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    # Transformations (same random streams as base.InMemoryDataset) --------------------------------------------

    def randomize_labels(self, seed: int, fraction: float) -> None:
        """Give ceil(N x fraction) images a uniformly random label (see `datasets.base.random_labels`)."""
        positions, new_labels = base.random_labels(len(self), self.num_classes, seed, fraction)
        self.labels[torch.from_numpy(positions)] = torch.from_numpy(new_labels)

    def subsample(self, seed: int, fraction: float) -> None:
        """Keep ceil(N x fraction) images chosen by `datasets.base.subsample_indices`, in that order.

        Raises ValueError on a second call ('Cannot subsample more than once.').
        """
        if self._subsampled:
            raise ValueError('Cannot subsample more than once.')
        self._subsampled = True
        keep = base.subsample_indices(len(self), seed, fraction)
        self.files = self.files[keep]
        self.labels = self.labels[torch.from_numpy(keep)]
        if self.quarter_turns is not None:
            self.quarter_turns = self.quarter_turns[torch.from_numpy(keep)]

    def blur(self, blur_factor: int) -> None:
        """Blur every preprocessed image: resize its 224x224 crop to int(224 / f) and back (bilinear).

        Raises ValueError when the factor would shrink the crop to nothing.
        """
        if int(IMAGE_SIZE / blur_factor) < 1:
            raise ValueError(f'blur_factor {blur_factor} is too large for {IMAGE_SIZE}x{IMAGE_SIZE} images.')
        self.blur_factor = blur_factor

    def unsupervised_rotation(self, seed: int) -> None:
        """Labels become `datasets.base.rotation_labels(N, seed)`; each image is rotated counter-clockwise by exactly
        label x 90 degrees when it is loaded, before augmentation. The number of classes becomes 4."""
        self.labels = torch.from_numpy(base.rotation_labels(len(self), seed))
        self.quarter_turns = self.labels.clone()
        self.num_classes = 4

    # Loading ----------------------------------------------------------------------------------------------------

    def __getitem__(self, key: Tuple[int, Optional[int]]) -> Tuple[torch.Tensor, int]:
        index, seed = key
        image = decode(os.path.join(self.root, self.files[index].decode()))
        if self.quarter_turns is not None and int(self.quarter_turns[index]):
            image = image.transpose(QUARTER_TURNS[int(self.quarter_turns[index])])  # exact, counter-clockwise
        generator = None if seed is None or not self.augment else torch.Generator().manual_seed(seed)
        image = self.preprocess(image, generator)
        return TF.normalize(TF.to_tensor(image), MEAN, STD), int(self.labels[index])

    def preprocess(self, image: Image.Image, generator: Optional[torch.Generator]) -> Image.Image:
        """Any RGB image -> 224x224: the augmentation drawn from `generator` (None: resize + centre crop), then the
        blur if set. Resizing is PIL's bilinear, as torchvision's transforms on PIL images."""
        if generator is not None:
            top, left, h, w = random_resized_crop_box(image.height, image.width, generator)
            image = TF.resized_crop(image, top, left, h, w, [IMAGE_SIZE, IMAGE_SIZE])
            if torch.rand(1, generator=generator).item() < 0.5:
                image = TF.hflip(image)
        else:
            image = TF.center_crop(TF.resize(image, RESIZE), IMAGE_SIZE)
        if self.blur_factor is not None:
            small = int(IMAGE_SIZE / self.blur_factor)
            image = TF.resize(TF.resize(image, [small, small]), [IMAGE_SIZE, IMAGE_SIZE])
        return image


def _load(platform, split: str, augment: bool) -> ImageFolderDataset:
    split_folder = os.path.join(platform.imagenet_root, split)
    if not os.path.isdir(split_folder):
        raise _unavailable(platform, f'there is no folder {split_folder}')
    try:
        _, files, labels = scan(split_folder)
    except FileNotFoundError as error:
        raise _unavailable(platform, str(error)) from None
    if len(files) == 0:
        raise _unavailable(platform, f'no images in the class folders of {split_folder}')
    return ImageFolderDataset(split_folder, files, labels, NUM_CLASSES, augment)


def get_train_set(platform, use_augmentation: bool) -> ImageFolderDataset:
    """The images of `<imagenet_root>/train`; augmented when `use_augmentation`.

    Raises DatasetUnavailable when the folder is missing or holds no images.
    """
    return _load(platform, 'train', augment=use_augmentation)


def get_test_set(platform) -> ImageFolderDataset:
    """The images of `<imagenet_root>/val`, never augmented. Raises DatasetUnavailable as `get_train_set`."""
    return _load(platform, 'val', augment=False)


# Loading batches --------------------------------------------------------------------------------------------------


def _collate(samples):
    """Stack (x, label) pairs into (x (B, 3, 224, 224), y (B,)); an empty share gives empty tensors."""
    if not samples:
        return torch.empty(0, 3, IMAGE_SIZE, IMAGE_SIZE), torch.empty(0, dtype=torch.int64)
    return torch.utils.data.default_collate(samples)


class _BatchPlan:
    """The DataLoader's batch sampler: for each iteration from `start`, this process's share of the global batch
    as a list of (example index, augmentation seed)."""

    def __init__(self, loader: 'Loader', start: int):
        self.loader, self.start = loader, start

    def __len__(self) -> int:
        return max(0, self.loader.iterations_per_epoch - self.start)

    def __iter__(self) -> Iterator[List[Tuple[int, int]]]:
        loader = self.loader
        for it in range(self.start, loader.iterations_per_epoch):
            share = loader.share(it)
            indices = loader._order[share].tolist()
            seeds = loader._seeds[share].tolist() if loader.augment else [None] * len(indices)
            yield list(zip(indices, seeds))


class Loader(base.ShardedLoader):
    """Batches of an ImageFolderDataset, decoded and preprocessed by `num_workers` DataLoader worker processes
    (none: in this process): `for x, y in loader` gives x float32 (B, 3, 224, 224) and y int64 (B,) on `device`.

    Order and sharding as `datasets.base.ShardedLoader`; the shuffle's generator draws a seed per epoch position
    for that image's augmentation, so passes are repeatable whatever the number of workers.
    """

    def __init__(self, dataset: ImageFolderDataset, batch_size: int, train: bool, device='cpu', rank: int = 0,
                 world_size: int = 1, num_workers: int = 0):
        self.dataset = dataset
        self.device = torch.device(device)
        self.num_workers = num_workers
        super().__init__(len(dataset), batch_size, train, dataset.augment, rank, world_size)

    def _draw_augmentation(self, generator: torch.Generator) -> None:
        self._seeds = torch.randint(0, 2 ** 62, (len(self.dataset),), generator=generator)

    def batches(self, start: int = 0) -> Iterator[Tuple[int, Tuple[torch.Tensor, torch.Tensor]]]:
        """(iteration, (x, y)) for every batch of the pass from iteration `start` on; x (B, 3, 224, 224), y (B,)."""
        data = torch.utils.data.DataLoader(self.dataset, batch_sampler=_BatchPlan(self, start),
                                           num_workers=self.num_workers, collate_fn=_collate,
                                           pin_memory=self.device.type == 'cuda')
        for it, (x, y) in enumerate(data, start):
            yield it, (x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))


def make_loader(dataset: ImageFolderDataset, batch_size: int, train: bool, platform) -> Loader:
    """The registry's hook: a Loader on the platform's device and shard, with the original's worker count
    (`num_workers` divided by the number of processes)."""
    return Loader(dataset, batch_size, train, device=platform.torch_device, rank=platform.rank,
                  world_size=platform.world_size, num_workers=platform.num_workers // platform.world_size)


# The original's API --------------------------------------------------------------------------------------------------


class Dataset(classic.ImageDataset):
    """The original's ImageNet class: examples are a numpy array of image paths under `get_platform().imagenet_root`
    (`train/` or `val/`), labels the class folder's index in sorted order. Training augmentation
    RandomResizedCrop(224, scale=(0.1, 1), ratio=(0.8, 1.25)) + RandomHorizontalFlip(); otherwise Resize(256) +
    CenterCrop(224); then Normalize. Served by the original's DataLoader (paths are not pixels)."""

    @staticmethod
    def num_train_examples() -> int:
        return NUM_TRAIN_EXAMPLES

    @staticmethod
    def num_test_examples() -> int:
        return NUM_TEST_EXAMPLES

    @staticmethod
    def num_classes() -> int:
        return NUM_CLASSES

    @staticmethod
    def _augment_transforms():
        return [torchvision.transforms.RandomResizedCrop(IMAGE_SIZE, scale=CROP_SCALE, ratio=CROP_RATIO),
                torchvision.transforms.RandomHorizontalFlip()]

    @staticmethod
    def _transforms():
        return [torchvision.transforms.Resize(RESIZE), torchvision.transforms.CenterCrop(IMAGE_SIZE)]

    @staticmethod
    def get_train_set(use_augmentation: bool) -> 'Dataset':
        transforms = Dataset._augment_transforms() if use_augmentation else Dataset._transforms()
        return Dataset(os.path.join(get_platform().imagenet_root, 'train'), transforms)

    @staticmethod
    def get_test_set() -> 'Dataset':
        return Dataset(os.path.join(get_platform().imagenet_root, 'val'), Dataset._transforms())

    def __init__(self, loc: str, image_transforms):
        _, files, labels = scan(loc)
        examples = np.array([os.path.join(loc, f.decode()) for f in files])
        super().__init__(examples, labels, image_transforms, [torchvision.transforms.Normalize(list(MEAN), list(STD))])

    def example_to_image(self, example) -> Image.Image:
        with get_platform().open(example, 'rb') as f:
            return Image.open(f).convert('RGB')


DataLoader = classic.DataLoader
