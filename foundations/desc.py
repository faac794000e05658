"""`Desc`: the complete description of one experiment; its hyperparameters determine its result folder's name."""

import abc
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass

from foundations import paths
from foundations.hparams import Hparams
from foundations.io import DamagedFile, atomic_write_text


@dataclass
class Desc(abc.ABC):
    """A dataclass whose fields are Hparams bundles (and possibly other things, which the hash ignores).

    `hashname` = `<name_prefix()>_<md5>`, where md5 is the hex MD5 of the `;`-joined canonical strings of the
    Hparams-valued fields, sorted by field name (as the original). Fields that are None or not Hparams are skipped.
    """

    @staticmethod
    @abc.abstractmethod
    def name_prefix() -> str:
        """`train`, `lottery` or `lottery_branch_<name>`."""

    def hparams_fields(self):
        """(field name, Hparams value) for every Hparams-valued field, sorted by field name."""
        items = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        return [(name, value) for name, value in sorted(items, key=lambda item: item[0]) if isinstance(value, Hparams)]

    @property
    def hash_input(self) -> str:
        """The exact string that is MD5-hashed into the folder name."""
        return ';'.join(str(value) for _, value in self.hparams_fields())

    @property
    def hashname(self) -> str:
        """`<prefix>_<md5 of hash_input>`: the name of the result folder."""
        return f'{self.name_prefix()}_{hashlib.md5(self.hash_input.encode("utf-8")).hexdigest()}'

    def field_display(self, field_name: str) -> str:
        """How one bundle appears in `hparams.log`; descriptors override this to retitle bundles (pretraining)."""
        return getattr(self, field_name).display

    def validate(self) -> None:
        """Raise HparamsError (naming the flag) for values that are unusable whatever the dataset or model."""
        for name, value in self.hparams_fields():
            value.validate(self.flag_prefix(name))

    def flag_prefix(self, field_name: str):
        """The flag prefix of a bundle (`pretrain` for pretraining bundles); None for unprefixed flags."""
        return None

    @property
    def hparams_log(self) -> str:
        """The text of `hparams.log`: each bundle's display, sorted by field name, joined by newlines (no final
        newline)."""
        return '\n'.join(self.field_display(name) for name, _ in self.hparams_fields())

    def check_saved(self, output_location: str) -> bool:
        """Whether `hparams.log` is already in `output_location`; raises DamagedFile if it is there but is not
        exactly this description's (damaged, or edited by hand): the folder name promises these hyperparameters."""
        path = paths.hparams(output_location)
        if not os.path.exists(path):
            return False
        with open(path, 'rb') as f:
            if f.read() != self.hparams_log.encode('utf-8'):
                raise DamagedFile(path, 'it does not match the hyperparameters of this run (damaged or edited)')
        return True

    def save(self, output_location: str) -> None:
        """Write `hparams.log` unless the same file is already there (a rerun never rewrites it), then `hparams.json`
        unless there is one (see `save_json`).

        Raises DamagedFile if a different `hparams.log` is there (see `check_saved`); it is never overwritten.
        """
        if not self.check_saved(output_location):
            atomic_write_text(paths.hparams(output_location), self.hparams_log)
        if not os.path.exists(paths.hparams_json(output_location)):
            self.save_json(output_location)

    def to_json_dict(self) -> dict:
        """Everything that identifies this experiment, defaults included: {'kind': the name prefix, 'hashname',
        'desc': {field: bundle dict, nested Desc dict, plain value or None}}. `from_json_dict` of the subclass
        rebuilds an equal Desc (so the same `hashname`), which `hparams.log` cannot (it omits falsy values)."""
        values = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Hparams):
                value = value.to_dict()
            elif isinstance(value, Desc):
                value = value.to_json_dict()
            values[f.name] = value
        return {'kind': self.name_prefix(), 'hashname': self.hashname, 'desc': values}

    def save_json(self, output_location: str) -> None:
        """Write `hparams.json` (`to_json_dict`, indented) into `output_location`, atomically."""
        atomic_write_text(paths.hparams_json(output_location), json.dumps(self.to_json_dict(), indent=4) + '\n')
