"""`randomly_prune`: train a random mask with the same sparsity as the trunk level's (Frankle & Carbin 2019,
Sec. 4 ablation; Frankle et al. 2021, "Pruning Neural Networks at Initialization: Why Are We Missing the Mark?")."""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

from foundations.hparams import HparamsError
from lottery.branch import base
from pruning.mask import Mask

STRATEGIES = ('layerwise', 'global', 'even', 'identity')
START_POINTS = ('rewind', 'init', 'end')


def random_mask(mask: Mask, strategy: str, seed: int) -> Mask:
    """A random mask derived from `mask`.

    layerwise: each tensor's mask shuffled (the i-th tensor in sorted-name order with seed + i), so every layer
      keeps its own density; global: all masks shuffled together, so only the total density is kept; even: every
      layer gets the overall density, at random positions; identity: `mask` unchanged.
    """
    import torch
    from utils import tensor_utils
    if strategy == 'layerwise':
        return Mask(tensor_utils.shuffle_state_dict(mask, seed=seed))
    if strategy == 'global':
        return Mask(tensor_utils.unvectorize(tensor_utils.shuffle_tensor(tensor_utils.vectorize(mask), seed), mask))
    if strategy == 'even':
        density = float(mask.density)
        result = {}
        for i, name in enumerate(sorted(mask.keys())):
            numel = mask[name].numel()
            flat = torch.zeros(numel)
            flat[tensor_utils.perm(numel, seed + i)[:round(density * numel)]] = 1
            result[name] = flat.reshape(mask[name].shape)
        return Mask(result)
    if strategy == 'identity':
        return mask
    raise ValueError(f'Invalid strategy: {strategy}')


class Branch(base.Branch):
    """Trains a random mask of the trunk level's sparsity from the rewind point (`--start_at=rewind`), the step-0
    weights (`init`) or the trunk level's trained weights (`end`)."""

    @staticmethod
    def name() -> str:
        return 'randomly_prune'

    @staticmethod
    def description() -> str:
        return 'Randomly prune the model.'

    def validate_arguments(self) -> None:
        arguments = self.branch_hparams
        if arguments.strategy not in STRATEGIES:
            raise HparamsError(f'argument --strategy: invalid strategy {arguments.strategy!r}; '
                               f'choose from: {", ".join(STRATEGIES)}')
        if arguments.start_at not in START_POINTS:
            raise HparamsError(f'argument --start_at: invalid starting point {arguments.start_at!r}; '
                               f'choose from: {", ".join(START_POINTS)}')
        if arguments.start_at == 'init' and self.lottery_desc.pretraining:
            raise HparamsError('argument --start_at: init needs a trunk without pretraining or rewinding (its '
                               'step-0 weights are the pretraining run\'s); use rewind or end')
        if arguments.layers_to_ignore:  # Tensor names: only a model (on the meta device) can check them.
            import torch
            from models import registry as models_registry
            with torch.device('meta'):
                names = models_registry.get(self.lottery_desc.model_hparams).prunable_layer_names
            for name in arguments.layers_to_ignore.split(','):
                if name not in names:
                    raise HparamsError(f'argument --layers_to_ignore: {name!r} is not a prunable tensor; '
                                       f'choose from: {", ".join(names)}')

    def branch_function(self, seed: int, strategy: str = 'layerwise', start_at: str = 'rewind',
                        layers_to_ignore: str = ''):
        import torch
        from pruning.pruned_model import PrunedModel
        mask = random_mask(Mask.load(self.level_root), strategy, seed)
        for name in layers_to_ignore.split(',') if layers_to_ignore else []:
            mask[name] = torch.ones_like(mask[name])
        if self.platform.is_primary_process:
            mask.save(self.branch_root)

        desc = self.lottery_desc
        if start_at == 'rewind':  # The dense rewind-point weights (README.md: a fix), not the trunk's masked ones.
            start_step, model = desc.train_start_step, self.load_trunk_model(0, desc.train_start_step)
        elif start_at == 'init':
            start_step, model = desc.str_to_step('0it'), self.load_trunk_model(0, desc.str_to_step('0it'))
        else:  # end: the trunk level's trained weights, trained again from step 0.
            start_step, model = desc.str_to_step('0it'), self.load_trunk_model(self.level, desc.train_end_step)
        self.train_branch(PrunedModel(model, mask), start_step)
