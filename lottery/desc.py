"""`LotteryDesc`: the hyperparameters of a lottery-ticket experiment; hashed into `lottery_<md5>`.

Hash order (sorted field names): dataset ; model ; [pretrain_dataset ; pretrain_training ;] pruning ; training.
Rewinding (`--rewinding_steps=k`, Frankle et al. 2020) is pretraining on the main dataset and recipe for k steps:
the pretraining bundles are copies of the main ones with `training_steps=k`, which is why `--rewinding_steps=1ep`
and `--pretrain --pretrain_training_steps=1ep` (with default pretraining flags) share a folder.
"""

import argparse
import copy
import dataclasses
import os
from dataclasses import dataclass
from typing import List, Optional

from cli import arg_utils
from datasets import registry as datasets_registry
from foundations.desc import Desc
from foundations.hparams import (DatasetHparams, Hparams, HparamsError, ModelHparams, PruningHparams,
                                 TrainingHparams)
from foundations.step import Step
from models import families
from platforms.platform import get_platform
from pruning import registry as pruning_registry
from training.desc import check_names, check_runnable

PRETRAIN_TITLES = {'pretrain_dataset_hparams': 'Pretraining Dataset Hyperparameters',
                   'pretrain_training_hparams': 'Pretraining Training Hyperparameters'}


def _rewinding_group(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group('Rewinding/Pretraining Arguments',
                                      'Arguments that control how the network is pre-trained')
    group.add_argument(
        '--rewinding_steps', type=str,
        help="The number of steps for which to train the network before the lottery ticket process begins. This is "
             "the 'rewinding' step as described in recent lottery ticket research. Can be expressed as a number of "
             "epochs ('160ep') or a number of iterations ('50000it'). If this flag is present, no other pretraining "
             "arguments may be set. Pretraining will be conducted using the same dataset and training "
             "hyperparameters as for the main training run. For the full range of pre-training options, "
             "use --pretrain.")
    group.add_argument(
        '--pretrain', action='store_true',
        help='Perform a pre-training phase prior to running the main lottery ticket process. Setting this argument '
             'will enable arguments to control how the dataset and training during this pre-training phase. '
             'Rewinding is a specific case of of pre-training where pre-training uses the same dataset and '
             'training procedure as the main training run.')


@dataclass
class LotteryDesc(Desc):
    """Dataset, model, training and pruning hyperparameters, plus optional pretraining (or rewinding)."""

    model_hparams: ModelHparams
    dataset_hparams: DatasetHparams
    training_hparams: TrainingHparams
    pruning_hparams: PruningHparams
    pretrain_dataset_hparams: Optional[DatasetHparams] = None
    pretrain_training_hparams: Optional[TrainingHparams] = None

    @staticmethod
    def name_prefix() -> str:
        return 'lottery'

    # Command line ---------------------------------------------------------------------------------------------

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, defaults: 'LotteryDesc' = None, argv: Optional[List[str]] = None
                 ) -> None:
        """Rewinding/pretraining, dataset, model, training and pruning flags (+ pretraining flags with --pretrain).

        The original's signature, plus `argv` (default sys.argv): pre-parses `--pruning_strategy` (its hparams
        class decides the pruning flags), `--pretrain` and `--rewinding_steps` from it. Raises HparamsError for an
        unknown strategy or both rewinding flags.
        """
        if isinstance(defaults, (list, tuple)):  # Transitional: the earlier form add_args(parser, argv, defaults).
            defaults, argv = argv, defaults
        rewinding_steps = arg_utils.maybe_get_arg('rewinding_steps', argv=argv)
        pretrain = arg_utils.maybe_get_arg('pretrain', boolean_arg=True, argv=argv)
        if rewinding_steps is not None and pretrain:
            raise HparamsError('argument --rewinding_steps: not allowed with --pretrain (rewinding is pretraining '
                               'with the main hyperparameters; use one or the other)')
        _rewinding_group(parser)

        strategy = arg_utils.maybe_get_arg('pruning_strategy', argv=argv)
        if strategy is None and defaults is not None:
            strategy = defaults.pruning_hparams.pruning_strategy
        if strategy is None:
            pruning_class, pruning_defaults = PruningHparams, None
        else:
            pruning_class = pruning_registry.get_pruning_hparams(strategy)
            if defaults is None:
                pruning_defaults = None
            elif defaults.pruning_hparams.pruning_strategy == strategy:
                pruning_defaults = defaults.pruning_hparams
            else:  # Another strategy than the preset's: its own field defaults.
                pruning_defaults = pruning_class(pruning_strategy=strategy)

        DatasetHparams.add_args(parser, defaults=defaults.dataset_hparams if defaults else None)
        ModelHparams.add_args(parser, defaults=defaults.model_hparams if defaults else None)
        TrainingHparams.add_args(parser, defaults=defaults.training_hparams if defaults else None)
        pruning_class.add_args(parser, defaults=pruning_defaults)

        if pretrain:
            pretrain_training_defaults = None
            if defaults is not None:
                pretrain_training_defaults = dataclasses.replace(defaults.training_hparams, training_steps='0ep')
            TrainingHparams.add_args(parser, defaults=pretrain_training_defaults, prefix='pretrain',
                                     name='Training Hyperparameters for Pretraining')
            DatasetHparams.add_args(parser, defaults=defaults.dataset_hparams if defaults else None,
                                    prefix='pretrain', name='Dataset Hyperparameters for Pretraining')

    @staticmethod
    def create_from_args(args: argparse.Namespace) -> 'LotteryDesc':
        """Build from parsed flags. Raises HparamsError for a malformed `--rewinding_steps`."""
        dataset_hparams = DatasetHparams.create_from_args(args)
        model_hparams = ModelHparams.create_from_args(args)
        training_hparams = TrainingHparams.create_from_args(args)
        pruning_hparams = pruning_registry.get_pruning_hparams(args.pruning_strategy).create_from_args(args)
        desc = LotteryDesc(model_hparams, dataset_hparams, training_hparams, pruning_hparams)

        rewinding_steps = getattr(args, 'rewinding_steps', None)
        if getattr(args, 'pretrain', False) and not Step.str_is_zero(args.pretrain_training_steps):
            desc.pretrain_dataset_hparams = DatasetHparams.create_from_args(args, prefix='pretrain')
            desc.pretrain_training_hparams = TrainingHparams.create_from_args(args, prefix='pretrain')
        elif rewinding_steps and not Step.str_is_zero(rewinding_steps):
            Hparams.check_step_string(rewinding_steps, '--rewinding_steps')
            desc.pretrain_dataset_hparams = copy.deepcopy(dataset_hparams)
            desc.pretrain_training_hparams = dataclasses.replace(training_hparams, training_steps=rewinding_steps)
        return desc

    @staticmethod
    def from_json_dict(data: dict) -> 'LotteryDesc':
        """The Desc saved by `to_json_dict` (`hparams.json`). Raises ValueError/KeyError/TypeError if malformed,
        HparamsError for an unknown pruning strategy."""
        values = data['desc']
        pruning_values = values['pruning_hparams']
        pruning_class = pruning_registry.get_pruning_hparams(pruning_values['pruning_strategy'])
        pretrain_dataset, pretrain_training = values.get('pretrain_dataset_hparams'), values.get(
            'pretrain_training_hparams')
        return LotteryDesc(
            ModelHparams.from_dict(values['model_hparams']), DatasetHparams.from_dict(values['dataset_hparams']),
            TrainingHparams.from_dict(values['training_hparams']), pruning_class.from_dict(pruning_values),
            DatasetHparams.from_dict(pretrain_dataset) if pretrain_dataset is not None else None,
            TrainingHparams.from_dict(pretrain_training) if pretrain_training is not None else None)

    def flag_prefix(self, field_name: str) -> Optional[str]:
        return 'pretrain' if field_name in PRETRAIN_TITLES else None

    def check_names(self) -> None:
        """Raise HparamsError for a well-formed but unknown name (model, dataset, optimizer, unsupervised labels,
        pruned tensors, ...), reading no data: what `--display_output_location` checks before it prints."""
        families.check_names(self.model_hparams)
        check_names(self.dataset_hparams, self.training_hparams)
        if self.pretraining:
            check_names(self.pretrain_dataset_hparams, self.pretrain_training_hparams, dataset_prefix='pretrain',
                        training_prefix='pretrain')
        if self.names_tensors():
            pruning_registry.validate_names(self.pruning_hparams, self.meta_model())
        else:
            pruning_registry.get_strategy(self.pruning_hparams.pruning_strategy)

    def names_tensors(self) -> bool:
        """Whether the pruning flags name tensors that only a built model can check: `--pruning_layers_to_ignore`
        set to something other than the model family's standard recipe (which names tensors every model of the
        family has, tests/models/test_families.py), or any strategy registered by a user. Otherwise the names are
        checked without importing torch."""
        if self.pruning_hparams.pruning_strategy not in pruning_registry.BUILT_IN:
            return True
        ignored = getattr(self.pruning_hparams, 'pruning_layers_to_ignore', None)
        return bool(ignored) and ignored != families.recipe_layers_to_ignore(self.model_hparams.model_name)

    def meta_model(self):
        """The model of every level, built on the meta device (no memory, no initialisation cost)."""
        import torch
        from models import registry as models_registry
        with torch.device('meta'):
            return models_registry.get(self.model_hparams, outputs=self.train_outputs)

    def check_runnable(self, platform, levels: Optional[int] = None) -> None:
        """Raise HparamsError for any name or value that cannot run, before anything is written.

        With `levels`, also that the pruning strategy can prune that many levels (Strategy.check_levels).
        """
        from models import registry as models_registry
        models_registry.validate(self.model_hparams)
        check_runnable(self.dataset_hparams, self.training_hparams, platform)
        if self.pretraining:
            check_runnable(self.pretrain_dataset_hparams, self.pretrain_training_hparams, platform,
                           dataset_prefix='pretrain', training_prefix='pretrain')
            if self.train_start_step >= self.train_end_step:
                raise HparamsError(
                    f'arguments --rewinding_steps/--pretrain_training_steps: the rewind point '
                    f'({self.pretrain_training_hparams.training_steps}) must come before the end of training '
                    f'(--training_steps={self.training_hparams.training_steps})')
        model = self.meta_model()
        pruning_registry.validate(self.pruning_hparams, model)
        if levels is not None:
            pruning_registry.check_levels(self.pruning_hparams, model, levels)

    # Steps and outputs ----------------------------------------------------------------------------------------

    @property
    def pretraining(self) -> bool:
        return self.pretrain_training_hparams is not None

    def str_to_step(self, s: str, pretrain: bool = False) -> Step:
        """A step string at the main (or pretraining) dataset's iterations per epoch."""
        dataset = self.pretrain_dataset_hparams if pretrain else self.dataset_hparams
        return Step.from_str(s, datasets_registry.iterations_per_epoch(dataset))

    @property
    def pretrain_end_step(self) -> Step:
        """The end of pretraining, at the pretraining dataset's epoch length."""
        return self.str_to_step(self.pretrain_training_hparams.training_steps, pretrain=True)

    @property
    def train_start_step(self) -> Step:
        """The rewind point: the pretraining length at the MAIN dataset's epoch length (0 without pretraining)."""
        if self.pretraining:
            return self.str_to_step(self.pretrain_training_hparams.training_steps)
        return self.str_to_step('0it')

    @property
    def train_end_step(self) -> Step:
        return self.str_to_step(self.training_hparams.training_steps)

    @property
    def pretrain_outputs(self) -> int:
        return datasets_registry.num_classes(self.pretrain_dataset_hparams)

    @property
    def train_outputs(self) -> int:
        """Output width of every level: the main dataset's number of classes."""
        return datasets_registry.num_classes(self.dataset_hparams)

    # Paths and display ----------------------------------------------------------------------------------------

    def run_path(self, replicate: int, pruning_level, experiment: str = 'main', *, root: Optional[str] = None) -> str:
        """`<root>/lottery_<md5>/replicate_<r>/level_<L>/<experiment>`; L is an int or `pretrain`. root defaults
        to the running job's platform root (`get_platform().root`, the original's behaviour).

        Raises HparamsError for a replicate that is not an int > 0.
        """
        if not isinstance(replicate, int) or replicate <= 0:
            raise HparamsError(f'argument --replicate: must be an integer >= 1, got {replicate}')
        root = get_platform().root if root is None else root
        return os.path.join(root, self.hashname, f'replicate_{replicate}', f'level_{pruning_level}', experiment)

    def field_display(self, field_name: str) -> str:
        value = getattr(self, field_name)
        if field_name in PRETRAIN_TITLES:
            return value.display_with_title(PRETRAIN_TITLES[field_name])
        return value.display

    @property
    def display(self) -> str:
        names = ['dataset_hparams', 'model_hparams', 'training_hparams', 'pruning_hparams']
        if self.pretraining:
            names += ['pretrain_dataset_hparams', 'pretrain_training_hparams']
        return '\n'.join(self.field_display(name) for name in names)
