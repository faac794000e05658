"""Branches by name (`lottery_branch <name>`)."""

from lottery.branch import randomly_prune, randomly_reinitialize, retrain

registered_branches = {
    'randomly_prune': randomly_prune.Branch,
    'randomly_reinitialize': randomly_reinitialize.Branch,
    'retrain': retrain.Branch,
}


def get(branch_name: str):
    return registered_branches[branch_name]
