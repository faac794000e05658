"""A toy dataset written three ways for the compatibility tests: the original OpenLTH's way (a `Dataset` class with
static methods, images as uint8 arrays), today's way (a module with `get_train_set(platform, use_augmentation)`),
and two original-style variants that cannot use the batched image loader (float feature tensors; examples read by
an overridden `__getitem__`). All hold the same 28x28 greyscale examples: noise plus a bright row at 4 x label."""

import types

import numpy as np
import torch
import torchvision
from PIL import Image

from datasets import base

NUM_TRAIN, NUM_TEST, NUM_CLASSES = 240, 60, 4
MEAN, STD = (0.25,), (0.2,)


def toy_images(n: int, seed: int):
    """(uint8 images (n, 28, 28), int64 labels (n,))."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(NUM_CLASSES, size=n).astype(np.int64)
    images = rng.randint(0, 60, size=(n, 28, 28)).astype(np.uint8)
    images[np.arange(n), 4 * labels + 4, :] = 250
    return images, labels


# The original's way -----------------------------------------------------------------------------------------------

class Dataset(base.ImageDataset):
    """The toy dataset as an OpenLTH user writes it."""

    @staticmethod
    def num_train_examples():
        return NUM_TRAIN

    @staticmethod
    def num_test_examples():
        return NUM_TEST

    @staticmethod
    def num_classes():
        return NUM_CLASSES

    @staticmethod
    def get_train_set(use_augmentation):
        return Dataset(*toy_images(NUM_TRAIN, seed=0))

    @staticmethod
    def get_test_set():
        return Dataset(*toy_images(NUM_TEST, seed=1))

    def __init__(self, examples, labels):
        super().__init__(examples, labels, [], [torchvision.transforms.Normalize(mean=list(MEAN), std=list(STD))])

    def example_to_image(self, example):
        return Image.fromarray(example)


DataLoader = base.DataLoader


# Today's way ------------------------------------------------------------------------------------------------------

def todays_module() -> types.ModuleType:
    """A dataset module in today's style: sizes as constants, splits built on an explicit platform."""
    module = types.ModuleType('toy_today')
    module.NUM_TRAIN_EXAMPLES, module.NUM_TEST_EXAMPLES, module.NUM_CLASSES = NUM_TRAIN, NUM_TEST, NUM_CLASSES

    def split(n, seed):
        images, labels = toy_images(n, seed)
        return base.InMemoryDataset(torch.from_numpy(images), labels, NUM_CLASSES, MEAN, STD)

    module.get_train_set = lambda platform, use_augmentation: split(NUM_TRAIN, 0)
    module.get_test_set = lambda platform: split(NUM_TEST, 1)
    return module


# Original-style variants that take the other two paths ------------------------------------------------------------

class FeatureDataset(base.Dataset):
    """Examples are float tensors (N, 1, 28, 28), already normalised: served by the in-memory TensorLoader."""

    @staticmethod
    def num_train_examples():
        return NUM_TRAIN

    @staticmethod
    def num_test_examples():
        return NUM_TEST

    @staticmethod
    def num_classes():
        return NUM_CLASSES

    @staticmethod
    def _split(n, seed):
        images, labels = toy_images(n, seed)
        features = (torch.from_numpy(images).float().div(255).unsqueeze(1) - MEAN[0]) / STD[0]
        return FeatureDataset(features, labels)

    @staticmethod
    def get_train_set(use_augmentation):
        return FeatureDataset._split(NUM_TRAIN, 0)

    @staticmethod
    def get_test_set():
        return FeatureDataset._split(NUM_TEST, 1)


class LazyDataset(FeatureDataset):
    """The same examples produced by an overridden `__getitem__`: served by the original's DataLoader."""

    @staticmethod
    def _split(n, seed):
        split = FeatureDataset._split(n, seed)
        return LazyDataset(split._examples, split._labels)

    @staticmethod
    def get_train_set(use_augmentation):
        return LazyDataset._split(NUM_TRAIN, 0)

    @staticmethod
    def get_test_set():
        return LazyDataset._split(NUM_TEST, 1)

    def __getitem__(self, index):
        return self._examples[index].clone(), self._labels[index]
