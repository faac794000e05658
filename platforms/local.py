"""The `local` platform: this machine, folders from the environment (see platforms/base.py)."""

from dataclasses import dataclass

from platforms import base


@dataclass
class Platform(base.Platform):
    """This machine: one process, or one process per GPU under torchrun; folders as in platforms/base.py."""
