"""`retrain`: train the trunk level's ticket (same mask, same rewind point) with other dataset and training
hyperparameters (`--retrain_d_*` and `--retrain_t_*`), e.g. to transfer a ticket to another dataset."""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

from foundations.hparams import DatasetHparams, TrainingHparams
from foundations.step import Step
from datasets import registry as datasets_registry
from lottery.branch import base
from pruning.mask import Mask
from training.desc import check_runnable


class Branch(base.Branch):
    """Trains the trunk level's ticket with `--retrain_d_*` dataset and `--retrain_t_*` training hyperparameters;
    the output layer is re-initialised when the new dataset has a different number of classes."""

    @staticmethod
    def name() -> str:
        return 'retrain'

    @staticmethod
    def description() -> str:
        return 'Retrain the model with different hyperparameters.'

    def validate_arguments(self) -> None:
        check_runnable(self.branch_hparams.retrain_d, self.branch_hparams.retrain_t, self.platform,
                       dataset_prefix='retrain_d', training_prefix='retrain_t')

    def training_recipe(self):
        return self.branch_hparams.retrain_d, self.branch_hparams.retrain_t

    def branch_function(self, retrain_d: DatasetHparams, retrain_t: TrainingHparams,
                        start_at_step_zero: bool = False):
        from lottery.runner import transfer_weights
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        desc = self.lottery_desc
        trunk_model = self.load_trunk_model(self.level, desc.train_start_step)
        outputs = datasets_registry.num_classes(retrain_d)
        model = models_registry.get(desc.model_hparams, outputs=outputs, seed=0)
        transfer_weights(trunk_model.state_dict(), model)

        ipe = datasets_registry.iterations_per_epoch(retrain_d)
        start_step = Step.from_iteration(0 if start_at_step_zero else desc.train_start_step.iteration, ipe)
        self.train_branch(PrunedModel(model, Mask.load(self.level_root)), start_step, retrain_d, retrain_t)
