"""`Runner`: one subcommand of `open_lth.py` (train, lottery, lottery_branch), registered in cli/runner_registry.py."""

import abc
import argparse
from typing import List, Optional

from platforms import platform as current_platform


class Runner(abc.ABC):
    """A workflow the command line can run.

    `add_args` receives the full argv (default sys.argv, as in the original) so it can pre-parse flags that decide
    which other flags exist (`--default_hparams`, `--pruning_strategy`, `--pretrain`, the branch name);
    `create_from_args` builds the runner and checks every value that needs no dataset or model (raising
    foundations.hparams.HparamsError); `run` checks the rest before it writes anything, then works.

    A runner holds its platform in `platform`; None (the original's way, constructors without a platform) means the
    running job's, `get_platform()`, looked up when the runner works (`job_platform`).
    """

    platform = None
    # A runner that only reads results (`list`) runs even where the results folder cannot be written.
    reads_only = False
    # A runner that trains or evaluates models; with several GPUs visible and no torchrun, the local platform runs it
    # in one worker process per GPU (platforms/launch.py). Runners that only read and write result files do not.
    uses_devices = True

    @property
    def job_platform(self):
        """`self.platform`, or the running job's platform when it is None."""
        return current_platform.resolve(self.platform)

    @staticmethod
    @abc.abstractmethod
    def description() -> str:
        """One line for the command chooser."""

    @staticmethod
    @abc.abstractmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        """Add this runner's flags to the parser (argv: default sys.argv)."""

    @staticmethod
    @abc.abstractmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'Runner':
        """Build the runner from parsed flags, on `platform` (default: the running job's)."""

    @abc.abstractmethod
    def display_output_location(self) -> None:
        """Print the folder(s) this job writes to."""

    @abc.abstractmethod
    def run(self) -> None:
        """Run the job; finished parts are not run again and interrupted ones resume."""

    def lock_folders(self) -> List[str]:
        """The folders this job writes, locked while it runs so that a second job cannot write them at the same
        time (see foundations/locks.py). None by default."""
        return []

    # Sweeps (cli/sweep.py) ------------------------------------------------------------------------------------------

    @staticmethod
    def independent_levels(args: argparse.Namespace) -> Optional[List[int]]:
        """The levels of `--levels` that this job runs independently of one another (a cluster sweep runs each as
        its own task, with `--levels=<L>`), or None when the job's levels depend on each other or it has none."""
        return None

    def finished(self) -> bool:
        """Whether every run of this job is already complete on disk (a sweep then skips it before submission).
        The default, False, never skips: `run` itself still skips finished work."""
        return False

    def check_before_submission(self) -> None:
        """Raise HparamsError for what a cluster job would fail on and no node can fix (a branch's trunk not yet
        trained), so that nothing is submitted. Device checks stay in `run`: the submitting machine may have no GPU."""
