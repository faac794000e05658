"""Subcommands of open_lth.py, in the order the command chooser lists them."""

from analysis.runners import ListRunner, ReportRunner
from lottery.branch.runner import BranchRunner
from lottery.runner import LotteryRunner
from training.runner import TrainingRunner

registered_runners = {'train': TrainingRunner, 'lottery': LotteryRunner, 'lottery_branch': BranchRunner}
# New in open_lth, after the original's three (which stay as they are in the command chooser).
registered_runners.update({'list': ListRunner, 'report': ReportRunner})


def get(runner_name: str):
    return registered_runners[runner_name]
