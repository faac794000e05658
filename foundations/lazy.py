"""Registries whose entries are imported when they are first used, so that starting `open_lth.py` costs little.

Every command parses its flags before it knows whether it will train, and `--display_output_location` never trains.
Importing every runner, branch, pruning strategy and dataset up front would import torch and torchvision (over three
seconds on a CPU) even then. A `LazyRegistry` is a dict whose values may be given as import paths
(`'package.module:attribute'`, or `'package.module'` for a module); a path is imported the first time its value is
read, and replaced by the object. Names (the keys) cost nothing, so menus, name checks and `choose from:` lists
import nothing.

Code written for the original OpenLTH keeps working: the registries are still dicts of names to classes (or modules),
reading a value gives the object, and entries added as objects (`registry['mine'] = MyClass`) are used as they are.
"""

import importlib
import sys


def resolve(path: str):
    """The object named by `path`: `'package.module:attribute'` (an attribute of a module) or `'package.module'`.

    Raises ImportError/AttributeError as the import would.
    """
    module_name, _, attribute = path.partition(':')
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


class LazyRegistry(dict):
    """A dict from names to objects, where an object may be given as an import path (a `str`, see `resolve`) and is
    imported when first read through `[]`, `get`, `values`, `items` or iteration over those.

    Keys, `in`, `len` and iteration over keys never import anything.
    """

    def _resolved(self, key):
        value = dict.__getitem__(self, key)
        if isinstance(value, str):
            value = resolve(value)
            dict.__setitem__(self, key, value)
        return value

    def __getitem__(self, key):
        return self._resolved(key)

    def get(self, key, default=None):
        return self._resolved(key) if key in self else default

    def values(self):
        return [self._resolved(key) for key in self]

    def items(self):
        return [(key, self._resolved(key)) for key in self]

    def pop(self, key, *default):
        if key in self:
            value = self._resolved(key)
            dict.__delitem__(self, key)
            return value
        return dict.pop(self, key, *default)

    def copy(self) -> 'LazyRegistry':
        return LazyRegistry(dict.items(self))

    def is_imported(self, key) -> bool:
        """Whether the entry `key` is an object already: registered as one, read before, or its module imported
        by anyone (so reading it now costs nothing and sees any change made to that module)."""
        value = dict.__getitem__(self, key)
        return not isinstance(value, str) or value.partition(':')[0] in sys.modules
