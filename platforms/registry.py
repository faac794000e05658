"""Platforms by name, for `--platform`."""

from platforms import local, slurm

registered_platforms = {'local': local.Platform, 'slurm': slurm.Platform}


def get(name: str):
    """The platform class registered under `name`; raises KeyError for unknown names (the CLI checks first)."""
    return registered_platforms[name]
