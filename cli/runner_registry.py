"""Subcommands of open_lth.py, in the order the command chooser lists them."""

from lottery.branch.runner import BranchRunner
from lottery.runner import LotteryRunner
from training.runner import TrainingRunner

registered_runners = {'train': TrainingRunner, 'lottery': LotteryRunner, 'lottery_branch': BranchRunner}


def get(runner_name: str):
    return registered_runners[runner_name]
