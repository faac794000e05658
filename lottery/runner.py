"""The `lottery` subcommand: iterative magnitude pruning with rewinding (Frankle & Carbin 2019, Sec. 2; Frankle
et al. 2020, "Linear Mode Connectivity and the Lottery Ticket Hypothesis").

Level 0 trains the dense network from the rewind point. Each level L >= 1 prunes level L-1's trained weights
(its mask shrinks), rewinds the surviving weights to the rewind point (initialisation, or the end of pretraining /
rewinding) and trains again. Every phase is skipped when its files exist, so rerunning the command resumes.
"""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

import argparse
import os
from dataclasses import dataclass
from typing import List, Optional

from cli import shared_args
from datasets import registry as datasets_registry
from foundations import paths, seeds
from foundations.hparams import HparamsError
from foundations.io import DamagedFile
from foundations.runner import Runner
from lottery.desc import LotteryDesc
from platforms import platform as current_platform
from pruning import registry as pruning_registry
from pruning.mask import Mask
from pruning.base import PruningExhausted
from training.metric_logger import MetricLogger
from training.runner import banner

PRUNING_DATA_SEED = 0  # The order (and augmentation) of the data pruning strategies score on; see pruning/base.py.

LEVELS_HELP = ('The number of levels of iterative pruning to perform. At each level, the network is trained to '
               'completion, pruned, and rewound, preparing it for the next lottery ticket iteration. The full '
               'network is trained at level 0, and level 1 is the first level at which pruning occurs. Set this '
               'argument to 0 to just train the full network or to N to prune the network N times.')


def header(text: str) -> str:
    return '\n'.join(['-' * 82, text, '-' * 82])


def transfer_weights(source_state: dict, model) -> None:
    """Load `source_state` into `model`; if the output layers differ in shape (pretraining on another label set),
    keep the model's own freshly initialised output layer."""
    target_state = model.state_dict()
    state = {k: v for k, v in source_state.items()
             if not (k in model.output_layer_names and tuple(v.shape) != tuple(target_state[k].shape))}
    target_state.update(state)
    model.load_state_dict(target_state)


@dataclass
class LotteryRunner(Runner):
    """`lottery`: levels 0..`levels` of iterative magnitude pruning with rewinding, into
    `<root>/lottery_<md5>/replicate_<replicate>/level_<L>/main` (see the module docstring). The original's fields,
    then `platform` (None: the running job's)."""

    replicate: int
    levels: int
    desc: LotteryDesc
    verbose: bool = True
    evaluate_every_epoch: bool = True
    platform: object = None
    tensorboard: bool = False  # New in open_lth (--tensorboard): TensorBoard event files beside each logger.

    trainer = None  # Stands in for train.standard_train when set (--concurrent: lottery/concurrent.py).

    @staticmethod
    def description() -> str:
        return 'Run a lottery ticket hypothesis experiment.'

    @staticmethod
    def run_concurrently(runners: List['LotteryRunner']) -> None:
        """Run the runners (replicates of one experiment) together in this process, level by level."""
        from lottery import concurrent
        concurrent.run_lottery_runners(runners)

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        shared_args.JobArgs.add_args(parser)
        group = parser.add_argument_group('Lottery Ticket Hyperparameters',
                                          'Hyperparameters that control the lottery ticket process.')
        group.add_argument('--levels', type=int, required=True, help=LEVELS_HELP)
        LotteryDesc.add_args(parser, shared_args.maybe_get_default_hparams(argv), argv=argv)

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'LotteryRunner':
        job = shared_args.JobArgs.create_from_args(args)
        job.validate()
        desc = LotteryDesc.create_from_args(args)
        desc.validate()
        return LotteryRunner(job.replicate, args.levels, desc, verbose=not job.quiet,
                             evaluate_every_epoch=not job.evaluate_only_at_end, platform=platform,
                             tensorboard=job.tensorboard)

    def location(self, level) -> str:
        return self.desc.run_path(self.replicate, level, root=self.job_platform.root)

    def lock_folders(self) -> List[str]:
        """The replicate folder: its levels build on each other, so one job at a time runs them all."""
        return [os.path.dirname(os.path.dirname(self.location(0)))]

    def display_output_location(self) -> None:
        self.desc.check_names()
        print(self.location(0))

    def finished(self) -> bool:
        """Whether every level 0..levels is trained."""
        from training import train
        return self.levels >= 0 and all(
            train.is_done(self.location(level), self.desc.dataset_hparams, self.desc.training_hparams)
            for level in range(self.levels + 1))

    def _print(self, text: str) -> None:
        if self.verbose and self.job_platform.is_primary_process:
            print(text)

    # The job ----------------------------------------------------------------------------------------------------

    def run(self) -> None:
        with current_platform.running(self.job_platform):
            self._run()

    def check_before_submission(self) -> None:
        if self.levels < 0:
            raise HparamsError(f'argument --levels: must be an integer >= 0, got {self.levels}')

    def _run(self) -> None:
        self.check_before_submission()
        self.desc.check_runnable(self.job_platform, levels=self.levels)
        self._print(banner(f'Lottery Ticket Experiment (Replicate {self.replicate})', self.desc.display,
                           self.location(0)))

        self.loaders = datasets_registry.LoaderCache(self.job_platform)
        for dataset_hparams in [self.desc.dataset_hparams, self.desc.pretrain_dataset_hparams]:
            if dataset_hparams is not None:
                self.loaders.load(dataset_hparams)

        if self.job_platform.is_primary_process:
            self.desc.save(self.location(0))
        trained = False
        if self.desc.pretraining:
            trained = self._pretrain()
        if self.job_platform.is_primary_process:
            self._establish_initial_weights()
        self.job_platform.barrier()

        for level in range(self.levels + 1):
            if self.job_platform.is_primary_process:
                self._prune_level(level)
            self.job_platform.barrier()
            trained = self._train_level(level) or trained

        if not trained:
            self._print(f'Already done: every level up to {self.levels} is trained; nothing to train.')
        self._print(summary(self.desc, self.job_platform.root, self.replicate, self.levels))

    def _pretrain(self) -> bool:
        """Train the pretraining phase in level_pretrain/main; returns whether anything was trained."""
        from models import registry as models_registry
        from training import train
        location = self.location('pretrain')
        if train.is_done(location, self.desc.pretrain_dataset_hparams, self.desc.pretrain_training_hparams):
            return False
        if self.job_platform.is_primary_process:
            self.desc.save_json(location)
        self._print(header('Pretraining'))
        model = models_registry.get(self.desc.model_hparams, outputs=self.desc.pretrain_outputs,
                                    seed=seeds.model_init_seed(self.replicate))
        trainer = self.trainer or train.standard_train
        return trainer(model, location, self.desc.pretrain_dataset_hparams,
                       self.desc.pretrain_training_hparams, verbose=self.verbose,
                       evaluate_every_epoch=self.evaluate_every_epoch, platform=self.job_platform,
                       loaders=self.loaders, tensorboard=self.tensorboard)

    def _establish_initial_weights(self) -> None:
        """Save the rewind-point weights in level_0/main: the initialisation, or the end of pretraining."""
        from models import registry as models_registry
        location = self.location(0)
        if models_registry.exists(location, self.desc.train_start_step):
            return
        model = models_registry.get(self.desc.model_hparams, outputs=self.desc.train_outputs,
                                    seed=seeds.model_init_seed(self.replicate))
        if self.desc.pretraining:
            pretrained = models_registry.load(self.location('pretrain'), self.desc.pretrain_end_step,
                                              self.desc.model_hparams, outputs=self.desc.pretrain_outputs)
            transfer_weights(pretrained.state_dict(), model)
        model.save(location, self.desc.train_start_step)

    def _prune_level(self, level: int) -> None:
        """Save level L's mask: all ones at level 0, else the strategy applied to level L-1's trained weights and
        mask, plus what the strategy declares it uses (pruning/base.py): the starting weights (the rewind point times
        level L-1's mask) and the pruning data. Runs on the primary process only; the others load the mask."""
        from models import registry as models_registry
        location = self.location(level)
        if Mask.exists(location):
            return
        if level == 0:
            model = models_registry.get(self.desc.model_hparams, outputs=self.desc.train_outputs, seed=0)
            Mask.ones_like(model).save(location)
        else:
            previous = self.location(level - 1)
            model = models_registry.load(previous, self.desc.train_end_step, self.desc.model_hparams,
                                         outputs=self.desc.train_outputs, seed=0)
            current_mask = Mask.load(previous)
            strategy = pruning_registry.get_strategy(self.desc.pruning_hparams.pruning_strategy)
            inputs = {}
            if strategy.uses_starting_weights:
                inputs['starting_model'] = self._starting_model(current_mask)
            if strategy.uses_data:
                inputs['data'] = self._pruning_data()
            prune = pruning_registry.get(self.desc.pruning_hparams)
            try:
                mask = prune(model, current_mask, **inputs)
            except PruningExhausted as e:  # Ties pruned more than the up-front count foresaw.
                raise PruningExhausted(f'{e} Level {level} cannot be pruned; levels 0-{level - 1} are finished '
                                       'and kept.') from None
            mask.save(location)

    def _starting_model(self, mask: Mask):
        """The rewind-point weights times `mask` (pruned weights exactly 0), on the platform's device."""
        import torch
        from models import registry as models_registry
        model = models_registry.load(self.location(0), self.desc.train_start_step, self.desc.model_hparams,
                                     outputs=self.desc.train_outputs, seed=0)
        with torch.no_grad():
            parameters = dict(model.named_parameters())
            for name, value in mask.items():
                parameters[name].mul_(value.to(parameters[name].dtype))
        return model.to(self.job_platform.torch_device)

    def _pruning_data(self):
        """The training set in one fixed order (shuffled with seed 0; augmented as in training), as whole global
        batches on the platform's device, whatever the number of processes (see pruning/base.py)."""
        if self.job_platform.world_size == 1:
            loader = self.loaders.get(self.desc.dataset_hparams, train=True)  # Training reshuffles every epoch.
        else:
            loader = datasets_registry.get_unsharded(self.desc.dataset_hparams, self.job_platform)
        loader.shuffle(PRUNING_DATA_SEED)
        return loader

    def _train_level(self, level: int) -> bool:
        """Train level L from the rewind-point weights times level L's mask; returns whether it trained."""
        from models import registry as models_registry
        from pruning.pruned_model import PrunedModel
        from training import train
        location = self.location(level)
        if self.job_platform.is_primary_process and not os.path.exists(paths.hparams_json(location)):
            self.desc.save_json(location)  # Also fills in folders written before hparams.json existed.
        if train.is_done(location, self.desc.dataset_hparams, self.desc.training_hparams):
            return False
        model = models_registry.load(self.location(0), self.desc.train_start_step, self.desc.model_hparams,
                                     outputs=self.desc.train_outputs, seed=0)
        pruned_model = PrunedModel(model, Mask.load(location))
        start = self.desc.train_start_step
        if self.job_platform.is_primary_process and not models_registry.exists(location, start):
            pruned_model.save(location, self.desc.train_start_step)
        self._print(header(f'Pruning Level {level}'))
        trainer = self.trainer or train.standard_train
        return trainer(pruned_model, location, self.desc.dataset_hparams, self.desc.training_hparams,
                       start_step=self.desc.train_start_step, verbose=self.verbose,
                       evaluate_every_epoch=self.evaluate_every_epoch, platform=self.job_platform,
                       loaders=self.loaders, tensorboard=self.tensorboard)


def summary(desc: LotteryDesc, root: str, replicate: int, levels: int) -> str:
    """A table of every level: % of prunable weights remaining and the final test accuracy (from the files).

    A level whose sparsity report or logger is damaged or missing shows `damaged: <file>` or `missing: <file>`
    in its row instead of numbers; the table is always printed whole.
    """
    lines = ['=' * 82, f'Lottery Ticket Results (Replicate {replicate})', '-' * 82,
             f'{"level":>5}  {"remaining":>10}  {"test accuracy":>13}  location']
    end = desc.train_end_step.iteration
    for level in range(levels + 1):
        location = desc.run_path(replicate, level, root=root)
        where = os.path.relpath(location, root)
        try:
            report = Mask.load_sparsity_report(location)
            accuracy = None
            if MetricLogger.exists(location):  # Written once, at the end of the level's training.
                MetricLogger.check_finished(location, end)
                accuracy = dict(MetricLogger.create_from_file(location).get_data('test_accuracy')).get(end)
        except DamagedFile as e:
            lines.append(f'{level:>5}  {"damaged: " + os.path.basename(e.path):>25}  {where}')
            continue
        except FileNotFoundError as e:
            lines.append(f'{level:>5}  {"missing: " + os.path.basename(e.filename or ""):>25}  {where}')
            continue
        accuracy_text = f'{100 * accuracy:12.2f}%' if accuracy is not None else f'{"-":>13}'
        lines.append(f'{level:>5}  {100 * report["unpruned"] / report["total"]:9.2f}%  {accuracy_text}  {where}')
    lines.append('=' * 82)
    return '\n'.join(lines)
