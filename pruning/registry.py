"""Pruning strategies by name (`--pruning_strategy`)."""

import copy

from foundations.hparams import HparamsError, PruningHparams
from foundations.lazy import LazyRegistry

# Imported when first used (foundations/lazy.py); register a Strategy class or its import path.
registered_strategies = LazyRegistry({'sparse_global': 'pruning.sparse_global:Strategy',
                                      'sparse_layerwise': 'pruning.sparse_layerwise:Strategy',
                                      'random': 'pruning.random_init:Strategy',
                                      'magnitude_init': 'pruning.magnitude_init:Strategy',
                                      'snip': 'pruning.snip:Strategy',
                                      'grasp': 'pruning.grasp:Strategy',
                                      'synflow': 'pruning.synflow:Strategy'})
# The strategies of open_lth itself, whose name checks need no model beyond a family's standard recipe
# (lottery.desc.LotteryDesc.names_tensors); a strategy registered by a user always has its names checked on a model.
BUILT_IN = frozenset(registered_strategies)


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
