"""Subcommands of open_lth.py, in the order the command chooser lists them.

Each runner is imported only when its subcommand runs (or its description is shown), so that starting a command
does not pay for the others' imports (foundations/lazy.py). Add a runner as a class or as `'module:Class'`.
"""

from foundations.lazy import LazyRegistry

registered_runners = LazyRegistry({'train': 'training.runner:TrainingRunner',
                                   'lottery': 'lottery.runner:LotteryRunner',
                                   'lottery_branch': 'lottery.branch.runner:BranchRunner'})
# New in open_lth, after the original's three (which stay as they are in the command chooser).
registered_runners.update({'list': 'analysis.runners:ListRunner', 'report': 'analysis.runners:ReportRunner'})


def get(runner_name: str):
    return registered_runners[runner_name]
