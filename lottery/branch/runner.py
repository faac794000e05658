"""The `lottery_branch` subcommand: pick a branch by name, then run it as its own runner."""

import argparse
from typing import List, Optional

from cli import arg_utils

from foundations.hparams import HparamsError
from foundations.runner import Runner
from lottery.branch import registry


def branch_chooser(argv: List[str]) -> str:
    """The menu printed by `lottery_branch` without a valid branch name (exit status 1): the registry's order, i.e.
    the original's branches (sorted, as it printed them) followed by the branches open_lth adds."""
    prefix = ' '.join(argv[:2]) if len(argv) >= 2 else 'open_lth.py lottery_branch'
    lines = ['=' * 82, 'OpenLTH: A Library for Research on Lottery Tickets and Beyond', '-' * 82,
             'Choose a branch to run:']
    for name in registry.registered_branches:
        lines.append(f'    * {prefix} {name} [...] => {registry.get(name).description()}')
    lines.append('=' * 82)
    return '\n'.join(lines)


def find_branch_name(argv: List[str]):
    """The first argument that names a registered branch, wherever it stands; None if there is none."""
    return next((token for token in argv[1:] if token in registry.registered_branches), None)


class BranchRunner(Runner):
    """Holds the chosen branch (itself a Runner) and delegates to it."""

    def __init__(self, branch: Runner):
        self.branch = branch

    @staticmethod
    def description() -> str:
        return 'Run a lottery branch.'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        """Add `branch_name` and the branch's flags; prints the branch chooser and exits 1 without a branch.
        argv: default sys.argv."""
        argv = arg_utils.current_argv(argv)
        branch_name = find_branch_name(argv)
        if branch_name is None:
            print(branch_chooser(argv))
            raise SystemExit(1)
        parser.add_argument('branch_name', type=str)
        registry.get(branch_name).add_args(parser, argv)

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'BranchRunner':
        if args.branch_name not in registry.registered_branches:
            raise HparamsError(f'argument branch_name: unknown branch {args.branch_name!r}; '
                               f'choose from: {", ".join(sorted(registry.registered_branches))}')
        return BranchRunner(registry.get(args.branch_name).create_from_args(args, platform=platform))

    @staticmethod
    def independent_levels(args: argparse.Namespace) -> List[int]:
        """A branch runs on each level of `--levels` on its own."""
        from lottery.branch.base import parse_levels
        return parse_levels(args.levels)

    def display_output_location(self) -> None:
        self.branch.display_output_location()

    def lock_folders(self) -> List[str]:
        return self.branch.lock_folders()

    def finished(self) -> bool:
        return self.branch.finished()

    def check_before_submission(self) -> None:
        self.branch.check_before_submission()

    def run(self) -> None:
        self.branch.run()
