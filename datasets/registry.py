"""Datasets by name, the order in which dataset transformations apply, and loaders built from DatasetHparams.

A dataset is a module exposing NUM_TRAIN_EXAMPLES, NUM_TEST_EXAMPLES, NUM_CLASSES, `get_train_set(platform,
use_augmentation)` and `get_test_set(platform)`, whose datasets have the transformation methods of
`datasets.base.InMemoryDataset` (randomize_labels, subsample, blur, unsupervised_rotation). In-memory datasets are
served by `datasets.base.Loader`; a module whose data does not fit in memory also provides
`make_loader(dataset, batch_size, train, platform)` (see datasets/imagenet.py). Adding a dataset is one file plus one line in `registered_datasets`.

A dataset module written for the original OpenLTH (a `Dataset` class with static `num_train_examples()`,
`num_test_examples()`, `num_classes()`, `get_train_set(use_augmentation)`, `get_test_set()`, and optionally a
`DataLoader`) is registered the same way and wrapped by `OriginalStyleDataset` (see docs/extending.md).
"""

from __future__ import annotations  # annotations name datasets.base classes, imported when data is loaded

import math

from foundations.hparams import DatasetHparams, HparamsError, flag_name
from foundations.lazy import LazyRegistry
from platforms import platform as current_platform

# Each dataset module is imported when its data or sizes are first needed (foundations/lazy.py): naming a dataset,
# as flags and --display_output_location do, imports nothing. Register a module object or its import path.
registered_datasets = LazyRegistry({'cifar10': 'datasets.cifar10', 'fashion_mnist': 'datasets.fashion_mnist',
                                    'imagenet': 'datasets.imagenet', 'mnist': 'datasets.mnist'})

UNSUPERVISED_LABELS = ('rotation',)


class OriginalStyleDataset:
    """A dataset registered the original's way (a module with a `Dataset` class, or the class itself), seen through
    the interface of our dataset modules (NUM_TRAIN_EXAMPLES, ..., get_train_set(platform, use_augmentation),
    get_test_set(platform), make_loader(dataset, batch_size, train, platform)).

    Its splits are built with `get_platform()` returning `platform`. An ImageDataset of uint8 pixels with standard
    transforms is served by our in-memory batched loader (`classic.in_memory_version`), a plain Dataset of tensors or
    arrays by `base.TensorLoader`, anything else by the module's `DataLoader` (default: the original's).
    """

    def __init__(self, registered):
        from datasets import classic
        self.dataset_class = getattr(registered, 'Dataset', registered)
        self.loader_class = getattr(registered, 'DataLoader', classic.DataLoader)

    @property
    def NUM_TRAIN_EXAMPLES(self) -> int:  # noqa: N802 (the name our dataset modules use)
        return self.dataset_class.num_train_examples()

    @property
    def NUM_TEST_EXAMPLES(self) -> int:  # noqa: N802
        return self.dataset_class.num_test_examples()

    @property
    def NUM_CLASSES(self) -> int:  # noqa: N802
        return self.dataset_class.num_classes()

    def get_train_set(self, platform, use_augmentation: bool):
        from datasets import classic
        with current_platform.running(platform):
            dataset = self.dataset_class.get_train_set(use_augmentation)
        return classic.in_memory_version(dataset) or dataset

    def get_test_set(self, platform):
        from datasets import classic
        with current_platform.running(platform):
            dataset = self.dataset_class.get_test_set()
        return classic.in_memory_version(dataset) or dataset

    def make_loader(self, dataset, batch_size: int, train: bool, platform):
        from datasets import base, classic
        if isinstance(dataset, base.InMemoryDataset):
            return base.make_loader(dataset, batch_size, train, platform)
        tensors = classic.tensor_version(dataset)
        if tensors is not None:
            return base.TensorLoader(*tensors, batch_size, train, device=platform.torch_device, rank=platform.rank,
                                     world_size=platform.world_size)
        if self.loader_class is classic.DataLoader:
            return classic.DataLoader(dataset, batch_size, platform.num_workers, platform=platform)
        with current_platform.running(platform):
            return self.loader_class(dataset, batch_size, num_workers=platform.num_workers)


def is_original_style(registered) -> bool:
    """Whether a registered dataset follows the original's API rather than ours (module-level get_train_set)."""
    return not (hasattr(registered, 'NUM_TRAIN_EXAMPLES') and callable(getattr(registered, 'get_train_set', None)))


# Sizes of the built-in datasets (train examples, test examples, classes), the same as their modules' constants
# (tests/datasets/test_registry_light.py): step strings convert to iterations without importing the module (and
# torch) first, e.g. for --display_output_location.
BUILT_IN_SIZES = {'cifar10': (50000, 10000, 10), 'fashion_mnist': (60000, 10000, 10),
                  'imagenet': (1281167, 50000, 1000), 'mnist': (60000, 10000, 10)}


def _sizes(dataset_name: str):
    """(train examples, test examples, classes) of a registered dataset; raises HparamsError if unknown."""
    check_name(dataset_name)
    if dataset_name in BUILT_IN_SIZES and not registered_datasets.is_imported(dataset_name):
        return BUILT_IN_SIZES[dataset_name]
    module = get_module(dataset_name)
    return module.NUM_TRAIN_EXAMPLES, module.NUM_TEST_EXAMPLES, module.NUM_CLASSES


def check_name(dataset_name: str, flag: str = '--dataset_name') -> None:
    """Raise HparamsError naming `flag` and the valid names if no dataset is registered as `dataset_name`."""
    if dataset_name not in registered_datasets:
        raise HparamsError(f'argument {flag}: unknown dataset {dataset_name!r}; '
                           f'choose from: {", ".join(sorted(registered_datasets))}')


def get_module(dataset_name: str, flag: str = '--dataset_name'):
    """The module of a registered dataset (wrapped in OriginalStyleDataset if written for the original); raises
    HparamsError naming `flag` and the valid names otherwise."""
    check_name(dataset_name, flag)
    registered = registered_datasets[dataset_name]
    return OriginalStyleDataset(registered) if is_original_style(registered) else registered


def validate_names(dataset_hparams: DatasetHparams, prefix: str = None) -> None:
    """Raise HparamsError (naming the flag) for an unknown dataset or unsupervised-labels name (reads no data and
    imports no dataset module)."""
    check_name(dataset_hparams.dataset_name, flag_name('dataset_name', prefix))
    labels = dataset_hparams.unsupervised_labels
    if labels is not None and labels not in UNSUPERVISED_LABELS:
        raise HparamsError(f'argument {flag_name("unsupervised_labels", prefix)}: unknown unsupervised labels '
                           f'{labels!r}; choose from: {", ".join(UNSUPERVISED_LABELS)}')


def validate(dataset_hparams: DatasetHparams, prefix: str = None) -> None:
    """Raise HparamsError (naming the flag) for a dataset name, fraction or transformation that cannot run."""
    validate_names(dataset_hparams, prefix)
    dataset_hparams.check_fraction(dataset_hparams.subsample_fraction, flag_name('subsample_fraction', prefix))
    dataset_hparams.check_fraction(dataset_hparams.random_labels_fraction,
                                   flag_name('random_labels_fraction', prefix))
    dataset_hparams.check_at_least(dataset_hparams.blur_factor, 1, flag_name('blur_factor', prefix))


def num_train_examples(dataset_hparams: DatasetHparams) -> int:
    """Training examples after subsampling: ceil(N x subsample_fraction)."""
    n = _sizes(dataset_hparams.dataset_name)[0]
    if dataset_hparams.subsample_fraction is not None:
        n = int(math.ceil(n * dataset_hparams.subsample_fraction))
    return n


def iterations_per_epoch(dataset_hparams: DatasetHparams) -> int:
    """ceil(N x subsample_fraction / batch_size): iterations in one epoch (the last batch may be partial)."""
    n = _sizes(dataset_hparams.dataset_name)[0]
    if dataset_hparams.subsample_fraction is not None:
        n = n * dataset_hparams.subsample_fraction
    return int(math.ceil(n / dataset_hparams.batch_size))


def uses_rotation_labels(dataset_hparams: DatasetHparams) -> bool:
    """Whether the labels are unsupervised rotations; raises ValueError for unknown unsupervised labels."""
    if dataset_hparams.unsupervised_labels is None:
        return False
    if dataset_hparams.unsupervised_labels not in UNSUPERVISED_LABELS:
        raise ValueError(f'Unknown unsupervised labels: {dataset_hparams.unsupervised_labels}')
    return True


def num_classes(dataset_hparams: DatasetHparams) -> int:
    """The number of labels: the dataset's classes, or 4 with `unsupervised_labels=rotation`."""
    if uses_rotation_labels(dataset_hparams):
        return 4
    return _sizes(dataset_hparams.dataset_name)[2]


def get_dataset(dataset_hparams: DatasetHparams, platform, train: bool = True) -> base.InMemoryDataset:
    """The training or test set with every transformation of `dataset_hparams` applied.

    Order (the original's): on the training set only, random labels, then subsampling, then blurring; then, on both
    sets, rotation labels. `transformation_seed` (None means 0) seeds every transformation.
    Raises ValueError for unknown unsupervised labels, DatasetUnavailable when the data cannot be found.
    """
    module = get_module(dataset_hparams.dataset_name)
    seed = dataset_hparams.transformation_seed or 0
    if train:
        dataset = module.get_train_set(platform, use_augmentation=not dataset_hparams.do_not_augment)
        if dataset_hparams.random_labels_fraction is not None:
            dataset.randomize_labels(seed, dataset_hparams.random_labels_fraction)
        if dataset_hparams.subsample_fraction is not None:
            dataset.subsample(seed, dataset_hparams.subsample_fraction)
        if dataset_hparams.blur_factor is not None:
            dataset.blur(dataset_hparams.blur_factor)
    else:
        dataset = module.get_test_set(platform)
    if uses_rotation_labels(dataset_hparams):
        dataset.unsupervised_rotation(seed)
    return dataset


def get(dataset_hparams: DatasetHparams, train: bool = True, *, platform=None):
    """A loader over the training (train=True) or test set, on the platform's device and shard.

    The original's signature; `platform` defaults to the running job's (`get_platform()`).
    The loader (`datasets.base.Loader`, or the dataset module's own `make_loader`) has `iterations_per_epoch`,
    `__len__`, `shuffle(seed)`, `batches(start)` and `__iter__` yielding (x float32 (B, C, H, W), y int64 (B,)).
    Raises TypeError when a platform is passed in the place of `train`.
    """
    if not isinstance(train, (bool, int)):
        raise TypeError(f'datasets.registry.get: train must be a bool, got {type(train).__name__} '
                        f'(pass the platform as platform=...)')
    from datasets import base
    platform = current_platform.resolve(platform)
    dataset = get_dataset(dataset_hparams, platform, train)
    make_loader = getattr(get_module(dataset_hparams.dataset_name), 'make_loader', base.make_loader)
    return make_loader(dataset, dataset_hparams.batch_size, train, platform)


def get_unsharded(dataset_hparams: DatasetHparams, platform, train: bool = True):
    """As `get`, but every process sees whole global batches (rank 0 of 1), e.g. to compute a pruning mask on one
    process that equals a single-process run's."""
    return get(dataset_hparams, train, platform=_SingleProcess(platform))


class _SingleProcess:
    """`platform` seen as the only process of its job (for `get_unsharded`)."""

    rank, world_size, is_distributed = 0, 1, False

    def __init__(self, platform):
        self._platform = platform

    def __getattr__(self, name):
        return getattr(self._platform, name)


def test_set_hparams(dataset_hparams: DatasetHparams) -> DatasetHparams:
    """The part of `dataset_hparams` the test set depends on (dataset, batch size, rotation labels and their seed)."""
    rotation = dataset_hparams.unsupervised_labels is not None
    return DatasetHparams(dataset_hparams.dataset_name, dataset_hparams.batch_size,
                          unsupervised_labels=dataset_hparams.unsupervised_labels,
                          transformation_seed=dataset_hparams.transformation_seed if rotation else None)


class LoaderCache:
    """Loaders of one job, built once per (dataset hyperparameters, split) and shared by its training runs."""

    def __init__(self, platform=None):
        self.platform = current_platform.resolve(platform)
        self._loaders = {}

    def load(self, dataset_hparams: DatasetHparams) -> None:
        """Build the training and test loaders now, so missing data fails before a job writes anything."""
        self.get(dataset_hparams, train=True)
        self.get(dataset_hparams, train=False)

    def get(self, dataset_hparams: DatasetHparams, train: bool = True):
        key = (str(dataset_hparams) if train else str(test_set_hparams(dataset_hparams)), train)
        if key not in self._loaders:
            self._loaders[key] = get(dataset_hparams, train, platform=self.platform)
        return self._loaders[key]
