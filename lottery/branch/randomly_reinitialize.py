"""`randomly_reinitialize`: train the trunk level's mask from a fresh random initialisation (Frankle & Carbin 2019,
Sec. 2: winning tickets lose their advantage when reinitialised)."""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

from typing import Optional

from foundations import seeds
from lottery.branch import base
from pruning.mask import Mask


class Branch(base.Branch):
    """Trains the trunk level's mask from new random weights (seeded by `--seed`, the replicate and the level),
    from the rewind step (or step 0 with `--start_at_step_zero`)."""

    @staticmethod
    def name() -> str:
        return 'randomly_reinitialize'

    @staticmethod
    def description() -> str:
        return 'Randomly reinitialize the model.'

    def branch_function(self, start_at_step_zero: bool = False, seed: Optional[int] = None):
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        desc = self.lottery_desc
        init_seed = seeds.derive_seed('randomly_reinitialize', self.replicate, self.level, seed)
        model = models_registry.get(desc.model_hparams, outputs=desc.train_outputs, seed=init_seed)
        mask = Mask.load(self.level_root)
        if self.platform.is_primary_process:
            mask.save(self.branch_root)
        start_step = desc.str_to_step('0it') if start_at_step_zero else desc.train_start_step
        self.train_branch(PrunedModel(model, mask), start_step)

    branch_function.argument_help = {
        '_seed': 'Seed of the new initialisation (the same seed gives the same weights). If not set, a seed derived '
                 'from the replicate and level is used.'}
