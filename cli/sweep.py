"""Sweeps: one command, several ordinary runs (`--replicates=1-5`; for a branch on a cluster, also one per level).

Each task of a sweep is the command's parsed flags with `--replicate` (and for a branch `--levels`) set to one value,
so each writes exactly the folder the same command with `--replicate=<n>` would. A platform runs the tasks: the local
one after another in this process, the slurm one as one job array (platforms/slurm.py). `--replicates` is a job flag
and enters no hash.
"""

import argparse
import copy
from dataclasses import dataclass
from typing import List, Optional

from cli import runner_registry
from foundations.hparams import HparamsError

GROUP = 'Sweep Arguments'
REPLICATES_HELP = ('(optional: str) Run several replicates, each an ordinary run in its own replicate_<n> folder: '
                   'a range or a comma-separated list, e.g. 1-5 or 1,3,7. Overrides --replicate.')


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add `--replicates` in its own group after all the others (runners with `--replicate` only).

    `--replicates` would make abbreviations of `--replicate` (`--rep=2` ... `--replicat=2`) ambiguous; each prefix
    that named only `--replicate` before stays an alias of it (hidden from --help).
    """
    if parser.get_default('replicate') is None:
        return
    options = parser._option_string_actions  # argparse keeps no public list of option strings.
    aliases = [prefix for prefix in ('--replicate'[:n] for n in range(3, len('--replicate')))
               if [o for o in options if o.startswith(prefix)] == ['--replicate']]
    group = parser.add_argument_group(GROUP, 'Arguments that run several copies of the same job in one command.')
    group.add_argument('--replicates', type=str, default=None, help=REPLICATES_HELP)
    if aliases:
        group.add_argument(*aliases, dest='replicate', type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def parse_replicates(text: str) -> List[int]:
    """`'1-3,7'` -> [1, 2, 3, 7]: replicates >= 1, ascending ranges, no duplicates. Raises HparamsError naming
    `--replicates` otherwise (`3-1`, `0-2`, `1-`, empty items)."""
    replicates = []
    for item in text.split(','):
        parts = item.split('-')
        if not all(p.isdigit() for p in parts) or len(parts) > 2 or int(parts[0]) < 1 or int(parts[-1]) < int(parts[0]):
            raise HparamsError(f'argument --replicates: invalid replicates {text!r}: expected replicates >= 1 as '
                               'ascending ranges or numbers separated by commas, e.g. 1-5 or 1,3,7')
        replicates.extend(r for r in range(int(parts[0]), int(parts[-1]) + 1) if r not in replicates)
    return sorted(replicates)


@dataclass
class Task:
    """One ordinary run of a sweep: the command's parsed flags (an argparse.Namespace of plain values, so it pickles)
    with one replicate and, for a branch split by level, one level."""

    args: argparse.Namespace

    @property
    def label(self) -> str:
        """`replicate_<n>` or `replicate_<n>/level_<L>`: how the task's output is tagged."""
        level = f'/level_{self.args.levels}' if getattr(self.args, 'split_level', False) else ''
        return f'replicate_{self.args.replicate}{level}'

    @property
    def wait_for_lock(self) -> bool:
        """Whether the run waits for another job that holds its folders (`--wait_for_lock`) instead of stopping."""
        return bool(getattr(self.args, 'wait_for_lock', False))

    def runner(self, platform):
        """The task's Runner on `platform` (checks the flags as the command line does; raises HparamsError)."""
        runner_class = runner_registry.get(self.args.subcommand)
        return runner_class.create_from_args(self.args, platform=platform)


def tasks(args: argparse.Namespace, runner_class, split_levels: bool = False) -> List[Task]:
    """The tasks of the command: one per replicate of `--replicates` (or just `--replicate`), and with
    `split_levels` one per replicate x level for runners whose levels are independent (branches)."""
    replicates = [args.replicate] if getattr(args, 'replicates', None) is None else parse_replicates(args.replicates)
    levels: Optional[List[int]] = runner_class.independent_levels(args) if split_levels else None
    result = []
    for replicate in replicates:
        for level in (levels if levels else [None]):
            task_args = copy.copy(args)
            task_args.replicate = replicate
            task_args.replicates = None
            if level is not None:
                task_args.levels = str(level)
                task_args.split_level = True
            result.append(Task(task_args))
    return result
