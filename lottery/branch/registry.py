"""Branches by name (`lottery_branch <name>`), in menu order: the original's three, then ours."""

from lottery.branch import instability, randomly_prune, randomly_reinitialize, retrain

registered_branches = {
    'randomly_prune': randomly_prune.Branch,
    'randomly_reinitialize': randomly_reinitialize.Branch,
    'retrain': retrain.Branch,
    'instability': instability.Branch,
}


def get(branch_name: str):
    return registered_branches[branch_name]
