"""Branches by name (`lottery_branch <name>`), in menu order: the original's three, then ours."""

from foundations.lazy import LazyRegistry

# Each branch is imported when it is chosen (foundations/lazy.py); register a Branch class or its import path.
registered_branches = LazyRegistry({
    'randomly_prune': 'lottery.branch.randomly_prune:Branch',
    'randomly_reinitialize': 'lottery.branch.randomly_reinitialize:Branch',
    'retrain': 'lottery.branch.retrain:Branch',
    'instability': 'lottery.branch.instability:Branch',
})


def get(branch_name: str):
    return registered_branches[branch_name]
