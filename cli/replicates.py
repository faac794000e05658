"""`--replicates=1-5`: one command, several replicates, each an ordinary run in `replicate_<n>/`.

On this machine they run one after another, or, with `--concurrent`, together in one process (training/concurrent.py)
when the subcommand supports it (its runner class has `run_concurrently(runners)`: train and lottery).
"""

import argparse
from typing import List

from cli import shared_args
from foundations.hparams import HparamsError
from foundations.runner import Runner


class ReplicatesRunner(Runner):
    """The runners of every replicate of one command; runs them in order, or concurrently."""

    def __init__(self, runners: List[Runner], concurrent: bool = False):
        self.runners = runners
        self.concurrent = concurrent

    @staticmethod
    def description() -> str:
        return 'Several replicates of one experiment.'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: List[str]) -> None:
        raise NotImplementedError('ReplicatesRunner is built by for_each_replicate, not from the command line.')

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform) -> 'Runner':
        raise NotImplementedError('ReplicatesRunner is built by for_each_replicate, not from the command line.')

    def display_output_location(self) -> None:
        for runner in self.runners:
            runner.display_output_location()

    def run(self) -> None:
        if self.concurrent:
            type(self.runners[0]).run_concurrently(self.runners)
            return
        for runner in self.runners:
            runner.run()


def for_each_replicate(runner_class, args: argparse.Namespace, platform, runner: Runner) -> Runner:
    """`runner` itself, or, with `--replicates` or `--concurrent`, a ReplicatesRunner over one runner per replicate
    (each built by `runner_class.create_from_args` with `--replicate` set to it).

    Raises HparamsError for a malformed `--replicates`, or `--concurrent` with a subcommand that cannot run
    replicates together or under torchrun.
    """
    job = shared_args.JobArgs.create_from_args(args)
    job.validate()
    if job.replicates is None and not job.concurrent:
        return runner
    if job.concurrent:
        if not hasattr(runner_class, 'run_concurrently'):
            raise HparamsError('argument --concurrent: only train and lottery train replicates concurrently; '
                               'drop --concurrent to run them one after another')
        if platform.is_distributed:
            raise HparamsError('argument --concurrent: replicates train together in one process; '
                               'do not combine it with torchrun or several GPUs')
    runners = [runner_class.create_from_args(argparse.Namespace(**dict(vars(args), replicate=replicate)),
                                             platform=platform)
               for replicate in job.replicate_list]
    return ReplicatesRunner(runners, concurrent=job.concurrent)
