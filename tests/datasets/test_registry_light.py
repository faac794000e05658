"""datasets/registry.py knows the built-in datasets' sizes without importing their modules."""

import importlib

import pytest

from datasets import registry
from foundations.hparams import DatasetHparams


@pytest.mark.parametrize('name', sorted(registry.BUILT_IN_SIZES))
def test_built_in_sizes_equal_the_modules_constants(name):
    module = importlib.import_module(f'datasets.{name}')
    assert registry.BUILT_IN_SIZES[name] == (module.NUM_TRAIN_EXAMPLES, module.NUM_TEST_EXAMPLES, module.NUM_CLASSES)


def test_a_changed_module_constant_wins_once_the_module_is_imported(monkeypatch):
    from datasets import mnist
    monkeypatch.setattr(mnist, 'NUM_TRAIN_EXAMPLES', 1280)
    assert registry.iterations_per_epoch(DatasetHparams('mnist', 128)) == 10
    assert registry.num_train_examples(DatasetHparams('mnist', 128, subsample_fraction=0.5)) == 640
