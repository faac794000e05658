"""One branch written twice: the original OpenLTH's way (a dataclass subclass calling the module-level API and
`self.branch_root` / `self.level_root`, platform from the running job) and today's (the base class's helpers).
Both retrain the trunk level's ticket from the rewind point, optionally with a different learning rate."""

import dataclasses
from dataclasses import dataclass

import models.registry
from lottery.branch import base
from pruning.mask import Mask
from pruning.pruned_model import PrunedModel
from training import train


@dataclass
class OriginalBranch(base.Branch):
    def branch_function(self, retrain_lr: float = None, start_at_step_zero: bool = False):
        model = models.registry.load(self.level_root, self.lottery_desc.train_start_step,
                                     self.lottery_desc.model_hparams)
        mask = Mask.load(self.level_root)
        mask.save(self.branch_root)
        model = PrunedModel(model, mask)
        training_hparams = self.lottery_desc.training_hparams
        if retrain_lr is not None:
            training_hparams = dataclasses.replace(training_hparams, lr=retrain_lr)
        start_step = self.lottery_desc.str_to_step('0it') if start_at_step_zero else \
            self.lottery_desc.train_start_step
        train.standard_train(model, self.branch_root, self.lottery_desc.dataset_hparams, training_hparams,
                             start_step=start_step, verbose=self.verbose)

    @staticmethod
    def description():
        return 'Retrain the ticket (written the original way).'

    @staticmethod
    def name():
        return 'toy_original'


class TodaysBranch(base.Branch):
    def branch_function(self, retrain_lr: float = None, start_at_step_zero: bool = False):
        desc = self.lottery_desc
        mask = Mask.load(self.level_root)
        if self.job_platform.is_primary_process:
            mask.save(self.branch_root)
        training_hparams = desc.training_hparams
        if retrain_lr is not None:
            training_hparams = dataclasses.replace(training_hparams, lr=retrain_lr)
        start_step = desc.str_to_step('0it') if start_at_step_zero else desc.train_start_step
        model = self.load_trunk_model(self.level, desc.train_start_step)
        self.train_branch(PrunedModel(model, mask), start_step, training_hparams=training_hparams)

    @staticmethod
    def description():
        return 'Retrain the ticket (written today\'s way).'

    @staticmethod
    def name():
        return 'toy_today'
