"""`--replicates=1-8 --concurrent`: the sweep's runners (cli/sweep.py), one per replicate, run as one job that trains
them together in this process (training/concurrent.py), when their subcommand supports it: its runner class has
`run_concurrently(runners)` (train and lottery)."""

import argparse
from typing import List

from foundations.hparams import HparamsError
from foundations.runner import Runner


class ConcurrentRunner(Runner):
    """The runners of every replicate of one command (same class, same flags but `--replicate`), run together."""

    def __init__(self, runners: List[Runner]):
        self.runners = runners

    @staticmethod
    def description() -> str:
        return 'Several replicates of one experiment, trained together.'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: List[str]) -> None:
        raise NotImplementedError('A ConcurrentRunner is built from the runners of a sweep (concurrent_runner).')

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform) -> 'Runner':
        raise NotImplementedError('A ConcurrentRunner is built from the runners of a sweep (concurrent_runner).')

    def display_output_location(self) -> None:
        for runner in self.runners:
            runner.display_output_location()

    def lock_folders(self) -> List[str]:
        """Every replicate's folders (foundations/locks.py), locked together while they train."""
        return [folder for runner in self.runners for folder in runner.lock_folders()]

    def run(self) -> None:
        platform = self.runners[0].platform
        if platform.is_distributed:
            raise HparamsError('argument --concurrent: replicates train together in one process; '
                               'do not combine it with torchrun')
        type(self.runners[0]).run_concurrently(self.runners)


def concurrent_runner(runners: List[Runner]) -> ConcurrentRunner:
    """One runner for all of `runners`; raises HparamsError (naming `--concurrent`) when their subcommand cannot
    train replicates together."""
    runner_class = type(runners[0])
    if not hasattr(runner_class, 'run_concurrently'):
        raise HparamsError('argument --concurrent: only train and lottery train replicates concurrently; '
                           'drop --concurrent to run them one after another')
    return ConcurrentRunner(runners)
