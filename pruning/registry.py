"""Pruning strategies by name (`--pruning_strategy`)."""

import copy

from foundations.hparams import HparamsError, PruningHparams
from pruning import grasp, magnitude_init, random_init, snip, sparse_global, sparse_layerwise, synflow

registered_strategies = {'sparse_global': sparse_global.Strategy,
                         'sparse_layerwise': sparse_layerwise.Strategy,
                         'random': random_init.Strategy,
                         'magnitude_init': magnitude_init.Strategy,
                         'snip': snip.Strategy,
                         'grasp': grasp.Strategy,
                         'synflow': synflow.Strategy}


def get_strategy(name: str):
    """The Strategy class; raises HparamsError naming `--pruning_strategy` and the valid names."""
    if name not in registered_strategies:
        raise HparamsError(f'argument --pruning_strategy: no pruning strategy {name!r}; '
                           f'choose from: {", ".join(registered_strategies)}')
    return registered_strategies[name]


def get_pruning_hparams(name: str) -> type:
    return get_strategy(name).get_pruning_hparams()


def get(pruning_hparams: PruningHparams):
    """`prune(trained_model, current_mask, **inputs) -> Mask` with a copy of the hyperparameters bound (`inputs`:
    `starting_model`, `data`, see pruning/base.py)."""
    strategy = get_strategy(pruning_hparams.pruning_strategy)
    bound = copy.deepcopy(pruning_hparams)
    return lambda trained_model, current_mask=None, **inputs: strategy.prune(bound, trained_model, current_mask,
                                                                            **inputs)


def validate(pruning_hparams: PruningHparams, model) -> None:
    get_strategy(pruning_hparams.pruning_strategy).validate(pruning_hparams, model)


def validate_names(pruning_hparams: PruningHparams, model) -> None:
    get_strategy(pruning_hparams.pruning_strategy).validate_names(pruning_hparams, model)


def check_levels(pruning_hparams: PruningHparams, model, levels: int) -> None:
    """The strategy's up-front check that `levels` levels can be pruned (see pruning.base.Strategy.check_levels)."""
    get_strategy(pruning_hparams.pruning_strategy).check_levels(pruning_hparams, model, levels)
