"""`Branch`: an experiment that starts from the levels of a finished lottery run (the trunk).

A branch is one file: a `Branch` subclass with `name()`, `description()` and a `branch_function(self, ...)` whose
typed parameters are the branch's flags (`--<parameter>`, or `--<parameter>_<field>` for an Hparams bundle). It
writes under `<trunk>/replicate_<r>/level_<L>/lottery_branch_<name>_<md5>/`, where md5 hashes only the branch's
arguments (as the original does), for every level of `--levels` (e.g. `0-2,5-8,12`).
"""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

import argparse
import dataclasses
import inspect
import os
import typing
from dataclasses import dataclass
from typing import List, Optional

from cli import arg_utils, shared_args
from datasets import registry as datasets_registry
from foundations import paths
from foundations.hparams import Hparams, HparamsError
from foundations.runner import Runner
from foundations.step import Step
from lottery.branch.desc import BranchDesc, make_BranchDesc
from lottery.desc import LotteryDesc
from platforms import platform as current_platform
from pruning.mask import Mask
from training.runner import banner

_BRANCH_TYPES = (str, float, int, bool)


@dataclass
class LevelArgs(Hparams):
    """Which trunk levels the branch runs on."""

    levels: str
    pretrain_training_steps: Optional[str] = None

    _name = 'Lottery Ticket Hyperparameters'
    _description = 'Hyperparameters that control the lottery ticket process.'
    _levels = ('The pruning levels on which to run this branch. Can include a comma-separate list of levels or '
               'ranges, e.g., 1,2-4,9')
    _pretrain_training_steps = 'The number of steps to train the network prior to the lottery ticket process.'


def parse_levels(text: str) -> List[int]:
    """`'0-2,5-8,12'` -> [0, 1, 2, 5, 6, 7, 8, 12] (sorted, without duplicates; ranges are inclusive).

    Raises HparamsError naming `--levels` for anything else (empty items, spaces, `1-2-3`, negative numbers) and
    for a range that contains no level (`3-1`), so a selection always holds at least one level.
    """
    levels = set()
    for item in text.split(','):
        parts = item.split('-')
        if item.isdigit():
            levels.add(int(item))
        elif len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            if int(parts[0]) > int(parts[1]):
                raise HparamsError(f'argument --levels: the range {item!r} in {text!r} contains no level: a range '
                                   f"goes from its lower level to its higher one, e.g. '{parts[1]}-{parts[0]}'")
            levels.update(range(int(parts[0]), int(parts[1]) + 1))
        else:
            raise HparamsError(f'argument --levels: invalid level {item!r} in {text!r}: expected levels and '
                               "inclusive ranges separated by commas, e.g. '0-2,5-8,12'")
    return sorted(levels)


def make_branch_hparams(branch_function) -> type:
    """The `Branch Arguments` Hparams dataclass of a branch function: one field per parameter after `self`.

    Each parameter needs an annotation (str, float, int, bool, Optional of those, or an Hparams bundle); its
    default becomes the field's. Raises ValueError otherwise.
    """
    fields = []
    hints = typing.get_type_hints(branch_function)  # Resolves annotations written as strings (PEP 563 modules).
    for parameter in list(inspect.signature(branch_function).parameters.values())[1:]:
        annotation = hints.get(parameter.name, parameter.annotation)
        if annotation is inspect.Parameter.empty:
            raise ValueError(f'Argument {parameter.name} needs a type annotation.')
        base_type = annotation
        if typing.get_origin(annotation) is typing.Union:
            base_type = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        if base_type not in _BRANCH_TYPES and not (isinstance(base_type, type) and issubclass(base_type, Hparams)):
            raise ValueError(f'Invalid branch type: {annotation}')
        if parameter.default is inspect.Parameter.empty:
            fields.append((parameter.name, annotation))
        else:
            fields.append((parameter.name, annotation, dataclasses.field(default=parameter.default)))
    namespace = {'_name': 'Branch Arguments', '_description': 'Arguments specific to the branch.'}
    namespace.update(getattr(branch_function, 'argument_help', {}))
    return dataclasses.make_dataclass('BranchHparams', fields, bases=(Hparams,), namespace=namespace)


@dataclass
class Branch(Runner):
    """Runs `branch_function` on each requested level of a trunk lottery experiment.

    Fields in the original's order (`replicate, levels, desc, verbose=False, level=None`), then
    `evaluate_every_epoch` and `platform` (None: the running job's, `get_platform()`). A subclass may be a plain
    class or a `@dataclass`; defining it builds its `BranchHparams` (one field per `branch_function` parameter;
    ValueError for a missing or unsupported annotation) and its `BranchDesc` (`make_BranchDesc`), as the
    original's `__init_subclass__` does.
    """

    replicate: int
    levels: List[int]
    desc: BranchDesc
    verbose: bool = False
    level: Optional[int] = None
    evaluate_every_epoch: bool = True
    platform: object = None
    tensorboard: bool = False  # New in open_lth (--tensorboard): TensorBoard event files beside each logger.
    loaders: object = dataclasses.field(default=None, init=False, repr=False, compare=False)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if 'branch_function' in cls.__dict__:
            cls.BranchHparams = make_branch_hparams(cls.branch_function)
            if 'name' in cls.__dict__:
                cls.BranchDesc = make_BranchDesc(cls.BranchHparams, cls.name())

    # To implement ------------------------------------------------------------------------------------------------

    @staticmethod
    def name() -> str:
        raise NotImplementedError

    @staticmethod
    def description() -> str:
        raise NotImplementedError

    def branch_function(self, *args, **kwargs) -> None:
        raise NotImplementedError

    def validate_arguments(self) -> None:
        """Raise HparamsError for argument values the branch cannot use (checked before anything runs)."""

    # Arguments and construction ------------------------------------------------------------------------------

    @classmethod
    def hparams_class(cls) -> type:
        """The branch's `BranchHparams` (built when the subclass was defined)."""
        return cls.BranchHparams

    @classmethod
    def add_args(cls, parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        argv = arg_utils.current_argv(argv)
        shared_args.JobArgs.add_args(parser)
        LevelArgs.add_args(parser)
        cls.BranchDesc.add_args(parser, shared_args.maybe_get_default_hparams(argv), argv=argv)

    @classmethod
    def create_from_args(cls, args: argparse.Namespace, platform=None) -> 'Branch':
        job = shared_args.JobArgs.create_from_args(args)
        job.validate()
        levels = parse_levels(args.levels)
        desc = cls.BranchDesc.create_from_args(args)
        desc.validate()
        branch = cls(job.replicate, levels, desc, verbose=not job.quiet,
                     evaluate_every_epoch=not job.evaluate_only_at_end, platform=platform,
                     tensorboard=job.tensorboard)
        branch.validate_arguments()
        return branch

    @classmethod
    def create_from_hparams(cls, replicate: int, levels: List[int], lottery_desc: LotteryDesc,
                            branch_hparams: Hparams, verbose: bool = False, *, platform=None) -> 'Branch':
        """The branch for programmatic use (the original's helper)."""
        return cls(replicate, levels, cls.BranchDesc(lottery_desc, branch_hparams), verbose=verbose,
                   platform=platform)

    # Locations ------------------------------------------------------------------------------------------------

    @property
    def lottery_desc(self) -> LotteryDesc:
        return self.desc.lottery_desc

    @property
    def branch_hparams(self) -> Hparams:
        return self.desc.branch_hparams

    @property
    def experiment_name(self) -> str:
        return self.desc.hashname

    def level_location(self, level) -> str:
        """The trunk's `level_<L>/main`."""
        return self.lottery_desc.run_path(self.replicate, level, root=self.job_platform.root)

    @property
    def level_root(self) -> str:
        return self.level_location(self.level)

    @property
    def branch_root(self) -> str:
        return self.lottery_desc.run_path(self.replicate, self.level, self.experiment_name,
                                          root=self.job_platform.root)

    def lock_folders(self) -> List[str]:
        """The branch folder of every requested level."""
        return [self.lottery_desc.run_path(self.replicate, level, self.experiment_name, root=self.job_platform.root)
                for level in self.levels]

    def display_output_location(self) -> None:
        self.lottery_desc.check_names()
        for level in self.levels:
            print(self.lottery_desc.run_path(self.replicate, level, self.experiment_name,
                                             root=self.job_platform.root))

    def training_recipe(self):
        """(dataset hparams, training hparams) the branch trains with: the trunk's unless a branch overrides it."""
        return self.lottery_desc.dataset_hparams, self.lottery_desc.training_hparams

    def finished(self) -> bool:
        """Whether the branch folder of every requested level holds its final model and logger."""
        from training import train
        dataset_hparams, training_hparams = self.training_recipe()
        return all(train.is_done(self.lottery_desc.run_path(root=self.job_platform.root, replicate=self.replicate,
                                                            pruning_level=level, experiment=self.experiment_name),
                                 dataset_hparams, training_hparams) for level in self.levels)

    # Running --------------------------------------------------------------------------------------------------

    def check_before_submission(self) -> None:
        self.check_trunk()

    def check_trunk(self) -> None:
        """Raise HparamsError naming `--levels` if a requested trunk level has not been trained."""
        from training import train
        desc = self.lottery_desc
        for level in self.levels:
            location = self.level_location(level)
            if not (Mask.exists(location) and train.is_done(location, desc.dataset_hparams, desc.training_hparams)):
                raise HparamsError(
                    f'argument --levels: level {level} of the lottery experiment in '
                    f'{os.path.dirname(os.path.dirname(location))} is not trained yet; run the lottery subcommand '
                    f'with the same flags and --levels={max(self.levels)} first')

    def run(self) -> None:
        with current_platform.running(self.job_platform):
            self._run()

    def _run(self) -> None:
        platform = self.job_platform
        self.lottery_desc.check_runnable(platform, levels=max(self.levels))
        self.check_trunk()
        self.loaders = datasets_registry.LoaderCache(platform)
        arguments = {f.name: getattr(self.branch_hparams, f.name) for f in self.branch_hparams.public_fields()}
        for level in self.levels:
            self.level = level
            if platform.is_primary_process and not os.path.exists(paths.hparams_json(self.branch_root)):
                self.desc.save_json(self.branch_root)
            if self.verbose and platform.is_primary_process:
                title = f'Branch {self.name()} (Replicate {self.replicate}, Level {level})'
                display = self.lottery_desc.display + '\n' + self.branch_hparams.display
                print(banner(title, display, self.branch_root))
            self.branch_function(**arguments)
        self.level = None

    # Helpers for branch functions -------------------------------------------------------------------------------

    def load_trunk_model(self, level, step: Step, outputs: Optional[int] = None):
        """The trunk's model saved at `step` in `level_<level>/main` (`level` may be `pretrain`)."""
        from models import registry as models_registry
        return models_registry.load(self.level_location(level), step, self.lottery_desc.model_hparams,
                                    outputs=outputs or self.lottery_desc.train_outputs, seed=0)

    def train_branch(self, model, start_step: Step, dataset_hparams=None, training_hparams=None) -> None:
        """Train `model` in the branch folder with the trunk's (or the given) dataset and training hparams."""
        from training import train
        trained = train.standard_train(model, self.branch_root, dataset_hparams or self.lottery_desc.dataset_hparams,
                                       training_hparams or self.lottery_desc.training_hparams,
                                       start_step=start_step, verbose=self.verbose,
                                       evaluate_every_epoch=self.evaluate_every_epoch, platform=self.job_platform,
                                       loaders=self.loaders, tensorboard=self.tensorboard)
        if not trained and self.verbose and self.job_platform.is_primary_process:
            print(f'Already done: {self.branch_root} holds the final model and logger; nothing to train.')
