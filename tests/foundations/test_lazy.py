"""foundations/lazy.py: registries whose entries are imported on first use."""

import subprocess
import sys

import pytest

from foundations.lazy import LazyRegistry, resolve


def test_resolve_module_and_attribute():
    import json
    assert resolve('json') is json
    assert resolve('json:dumps') is json.dumps
    with pytest.raises(ImportError):
        resolve('no_such_module_here')
    with pytest.raises(AttributeError):
        resolve('json:no_such_function')


def test_values_are_imported_when_read_and_then_kept():
    import json
    registry = LazyRegistry({'dumps': 'json:dumps', 'object': json.loads})
    assert 'dumps' in registry and len(registry) == 2 and list(registry) == ['dumps', 'object']
    assert not registry.is_imported('dumps') or 'json' in sys.modules  # json is always imported by pytest
    assert registry['dumps'] is json.dumps
    assert dict.__getitem__(registry, 'dumps') is json.dumps  # replaced by the object
    assert registry.get('object') is json.loads
    assert registry.get('missing', 7) == 7
    assert registry.values() == [json.dumps, json.loads]
    assert registry.items() == [('dumps', json.dumps), ('object', json.loads)]
    assert registry.pop('object') is json.loads and list(registry) == ['dumps']
    registry['added'] = len  # Registering an object, the original's way.
    assert registry['added'] is len and registry.is_imported('added')


def test_names_import_nothing():
    """Keys, membership and length never import an entry's module (checked in a fresh interpreter)."""
    code = ('import sys; from foundations.lazy import LazyRegistry; '
            "r = LazyRegistry({'a': 'email.mime.text:MIMEText'}); "
            "assert 'a' in r and list(r) == ['a'] and len(r) == 1 and not r.is_imported('a'); "
            "assert 'email.mime.text' not in sys.modules; "
            "r['a']; assert 'email.mime.text' in sys.modules and r.is_imported('a'); print('ok')")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd='.')
    assert result.stdout.strip() == 'ok', result.stderr


def test_registries_are_lazy_dicts_of_the_original_objects():
    from cli import runner_registry
    from datasets import registry as datasets_registry
    from lottery.branch import registry as branch_registry
    from pruning import registry as pruning_registry
    from training.runner import TrainingRunner
    assert list(runner_registry.registered_runners) == ['train', 'lottery', 'lottery_branch', 'list', 'report']
    assert runner_registry.get('train') is TrainingRunner
    assert list(branch_registry.registered_branches) == ['randomly_prune', 'randomly_reinitialize', 'retrain',
                                                         'instability']
    assert branch_registry.get('retrain').name() == 'retrain'
    assert sorted(datasets_registry.registered_datasets) == ['cifar10', 'fashion_mnist', 'imagenet', 'mnist']
    from datasets import mnist
    assert datasets_registry.registered_datasets['mnist'] is mnist
    from pruning import sparse_global
    assert pruning_registry.registered_strategies['sparse_global'] is sparse_global.Strategy
    assert pruning_registry.BUILT_IN == set(pruning_registry.registered_strategies)
