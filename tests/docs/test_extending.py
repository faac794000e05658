"""Runs every code block of docs/extending.md in order: `# file: <path>` blocks become that module (removed again
afterwards), the others run as one script. Registries and the installed platform are restored afterwards."""

import copy
import importlib
import os
import re
import sys
import types

import pytest

from tests.conftest import REPO

DOC = os.path.join(REPO, 'docs', 'extending.md')


def code_blocks(path):
    with open(path) as f:
        return re.findall(r'```python\n(.*?)```', f.read(), flags=re.DOTALL)


@pytest.fixture
def restored_registries():
    from datasets import registry as datasets_registry
    from lottery.branch import registry as branch_registry
    from models import registry as models_registry
    from platforms import platform as platform_module
    from platforms import registry as platforms_registry
    from pruning import registry as pruning_registry
    saved = [(datasets_registry, 'registered_datasets'), (models_registry, 'registered_models'),
             (pruning_registry, 'registered_strategies'), (branch_registry, 'registered_branches'),
             (platforms_registry, 'registered_platforms'), (platform_module, '_PLATFORM')]
    values = [copy.copy(getattr(module, name)) for module, name in saved]
    modules_before = set(sys.modules)
    yield
    for (module, name), value in zip(saved, values):
        setattr(module, name, value)
    for name in set(sys.modules) - modules_before:
        package, _, attribute = name.rpartition('.')
        if package in sys.modules and getattr(sys.modules[package], attribute, None) is sys.modules[name]:
            delattr(sys.modules[package], attribute)
        del sys.modules[name]


def load_file_block(path, code):
    """Make `code` the module at `path` (e.g. datasets/stripes.py -> datasets.stripes)."""
    name = path[:-len('.py')].replace('/', '.')
    package, _, attribute = name.rpartition('.')
    module = types.ModuleType(name)
    module.__file__ = os.path.join(REPO, path)
    sys.modules[name] = module
    setattr(importlib.import_module(package), attribute, module)
    exec(compile(code, module.__file__, 'exec'), module.__dict__)


def test_every_example_runs(restored_registries, capsys):
    blocks = code_blocks(DOC)
    assert len(blocks) >= 14
    files = [block.splitlines()[0][len('# file: '):] for block in blocks if block.startswith('# file: ')]
    assert files == ['datasets/stripes.py', 'datasets/stripes_original.py', 'models/mnist_linear.py',
                     'pruning/layer_magnitude.py', 'lottery/branch/reshuffle.py',
                     'lottery/branch/reshuffle_original.py', 'platforms/scratch.py']
    for path in files:  # The examples must not shadow real files.
        assert not os.path.exists(os.path.join(REPO, path))
    namespace = {'__name__': 'extending_md'}
    for number, block in enumerate(blocks):
        if block.startswith('# file: '):
            load_file_block(block.splitlines()[0][len('# file: '):], block)
        else:
            exec(compile(block, f'{DOC} (block {number + 1})', 'exec'), namespace)
    assert namespace['logs'][0] == namespace['logs'][1]  # The two branches' loggers (the last comparison).
