"""The `train` subcommand: train one model with the standard callbacks."""

import argparse
from dataclasses import dataclass
from typing import List, Optional

from cli import shared_args
from foundations import seeds
from foundations.runner import Runner
from platforms import platform as current_platform
from training.desc import TrainingDesc

# The modules that train (datasets.registry's loaders, models.registry, training.train) import torch: they are
# imported by the methods that work, so that parsing flags and --display_output_location do not pay for torch.


def banner(title: str, display: str, output_location: str) -> str:
    """The framed block that opens a job: title, hyperparameters, output location (82-character rules)."""
    return '\n'.join(['=' * 82, title, '-' * 82, display, f'Output Location: {output_location}', '=' * 82, ''])


@dataclass
class TrainingRunner(Runner):
    """`train`: trains `desc`'s model once into `<root>/train_<md5>/replicate_<replicate>/main` (skipped when
    done, resumed when interrupted). verbose prints the banner and per-epoch lines. The original's fields, then
    `platform` (None: the running job's)."""

    replicate: int
    desc: TrainingDesc
    verbose: bool = True
    evaluate_every_epoch: bool = True
    platform: object = None
    tensorboard: bool = False  # New in open_lth (--tensorboard): TensorBoard event files beside the logger.

    # Hooks for --concurrent (training/concurrent.py): a stand-in for train.standard_train, and a shared LoaderCache.
    trainer = None
    loaders = None

    @staticmethod
    def description() -> str:
        return 'Train a model.'

    @staticmethod
    def run_concurrently(runners: List['TrainingRunner']) -> None:
        """Train the runners (replicates of one experiment) together in this process."""
        from training import concurrent
        concurrent.run_training_runners(runners)

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        shared_args.JobArgs.add_args(parser)
        TrainingDesc.add_args(parser, shared_args.maybe_get_default_hparams(argv))

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'TrainingRunner':
        job = shared_args.JobArgs.create_from_args(args)
        job.validate()
        desc = TrainingDesc.create_from_args(args)
        desc.validate()
        return TrainingRunner(job.replicate, desc, verbose=not job.quiet,
                              evaluate_every_epoch=not job.evaluate_only_at_end, platform=platform,
                              tensorboard=job.tensorboard)

    @property
    def output_location(self) -> str:
        return self.desc.run_path(self.replicate, root=self.job_platform.root)

    def lock_folders(self) -> List[str]:
        return [self.output_location]

    def display_output_location(self) -> None:
        self.desc.check_names()
        print(self.output_location)

    def finished(self) -> bool:
        from training import train
        return train.is_done(self.output_location, self.desc.dataset_hparams, self.desc.training_hparams)

    def run(self) -> None:
        platform = self.job_platform
        with current_platform.running(platform):
            self._run(platform)

    def _run(self, platform) -> None:
        from datasets import registry as datasets_registry
        from models import registry as models_registry
        from training import train
        self.desc.check_runnable(platform)
        location = self.output_location
        primary = platform.is_primary_process
        if self.verbose and primary:
            print(banner(f'Training a Model (Replicate {self.replicate})', self.desc.display, location))
        self.desc.check_saved(location)
        if train.is_done(location, self.desc.dataset_hparams, self.desc.training_hparams):
            if self.verbose and primary:
                print(f'Already done: {location} holds the final model and logger; nothing to train.')
            return

        loaders = self.loaders or datasets_registry.LoaderCache(platform)
        loaders.load(self.desc.dataset_hparams)
        if primary:
            self.desc.save(location)
        model = models_registry.get(self.desc.model_hparams, outputs=self.desc.train_outputs,
                                    seed=seeds.model_init_seed(self.replicate))
        trainer = self.trainer or train.standard_train
        trainer(model, location, self.desc.dataset_hparams, self.desc.training_hparams,
                verbose=self.verbose, evaluate_every_epoch=self.evaluate_every_epoch, platform=platform,
                loaders=loaders, tensorboard=self.tensorboard)
