"""Hyperparameter bundles: plain dataclasses that become command-line flags and canonical, hashable strings.

Every public field of an `Hparams` dataclass is one hyperparameter. Its type annotation (bool, str, float, int,
Optional[...] of those, or a nested Hparams) sets the flag type; a field without a default is required. Class
attributes that are not fields describe the bundle: `_name` (group title and display header), `_description` (group
description) and `_<field>` (the help text of `--<field>`).

`str(hparams)` is the canonical form that `Desc.hashname` hashes: it must stay byte-identical to the original
OpenLTH's for the same values, or users lose the link to their existing result folders. The golden cases recorded
on the original (tests/golden/hashnames_visible.json, checked by tests/cli/test_hashnames.py) pin those rules.
"""

import argparse
import copy
import dataclasses
import math
import typing
from dataclasses import MISSING, dataclass
from typing import Optional

from foundations.step import Step

_SCALAR_TYPES = (bool, str, float, int)


class HparamsError(ValueError):
    """A hyperparameter value that cannot be used. The message names the flag and what is allowed."""


def flag_name(field_name: str, prefix: Optional[str] = None) -> str:
    """The command-line flag of a field: `--<field>` or `--<prefix>_<field>`."""
    return f'--{prefix}_{field_name}' if prefix else f'--{field_name}'


def _unwrap_optional(annotation):
    """`Optional[int]` -> `int`; anything else unchanged."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _render(value) -> str:
    """How one value appears inside the canonical `Hparams(...)` string."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, tuple):
        return 'Tuple(' + ','.join(str(v) for v in value) + ')'
    return str(value)


@dataclass
class Hparams:
    """Base class of every hyperparameter bundle (dataset, model, training, pruning, branch arguments, ...).

    Subclasses are dataclasses with `_name` and `_description` class attributes. Raises ValueError at construction
    when either is missing, and at `add_args` when a field has an unsupported type or a boolean does not default to
    False (store_true flags cannot express a True default).
    """

    def __post_init__(self):
        for attribute in ('_name', '_description'):
            if not hasattr(type(self), attribute):
                raise ValueError(f'Must have field {attribute} with string value.')

    # ----------------------------------------------------------------------------------------------------------
    # Introspection.
    # ----------------------------------------------------------------------------------------------------------

    @classmethod
    def public_fields(cls):
        """The dataclass fields that are hyperparameters (names not starting with `_`), in declaration order."""
        return [f for f in dataclasses.fields(cls) if not f.name.startswith('_')]

    @classmethod
    def field_type(cls, field) -> type:
        """The scalar type or nested Hparams class of a field; raises ValueError for anything else.

        Annotations written as strings (a module with `from __future__ import annotations`) are resolved first."""
        annotation = field.type
        if isinstance(annotation, str):
            annotation = typing.get_type_hints(cls).get(field.name, annotation)
        annotation = _unwrap_optional(annotation)
        if annotation in _SCALAR_TYPES or (isinstance(annotation, type) and issubclass(annotation, Hparams)):
            return annotation
        raise ValueError(f'Invalid field type {field.type} for hparams field {field.name}.')

    @staticmethod
    def is_required(field) -> bool:
        """A field without a default is required."""
        return field.default is MISSING and field.default_factory is MISSING

    @classmethod
    def group_title(cls) -> str:
        """Title of the argparse group; `_group_name` overrides `_name` where the two differ (sparse_global)."""
        return getattr(cls, '_group_name', cls._name)

    # ----------------------------------------------------------------------------------------------------------
    # Command line.
    # ----------------------------------------------------------------------------------------------------------

    @classmethod
    def add_args(cls, parser, defaults: 'Hparams' = None, prefix: str = None, name: str = None,
                 description: str = None, create_group: bool = True):
        """Add one flag per public field to `parser` (nested bundles recurse with prefix `<prefix>_<field>`).

        `defaults`, an instance of this class (e.g. a model family's preset), supplies argparse defaults; a required
        field with a truthy default becomes optional. Help texts start with the original's markers:
        `(required: <type>)`, `(default: <value>)`, `(optional: <type>)` or `(optional)` for booleans.
        """
        if defaults is not None and not isinstance(defaults, cls):
            raise ValueError(f'defaults must also be type {cls}.')

        if create_group:
            parser = parser.add_argument_group(name or cls.group_title(), description or cls._description)

        for field in cls.public_fields():
            field_type = cls.field_type(field)
            flag = flag_name(field.name, prefix)
            helptext = getattr(cls, f'_{field.name}', '')

            if defaults is not None:
                default = copy.deepcopy(getattr(defaults, field.name))
            elif not cls.is_required(field):
                default = field.default
            else:
                default = None

            if field_type is bool:
                if (defaults is not None and getattr(defaults, field.name) is not False) or field.default is not False:
                    raise ValueError(f'Boolean hyperparameters must default to False: {field.name}.')
                parser.add_argument(flag, action='store_true', help='(optional) ' + helptext)

            elif field_type in (str, float, int):
                required = cls.is_required(field) and (defaults is None or not getattr(defaults, field.name))
                if required:
                    marker = '(required: %(type)s) '
                elif default:
                    marker = f'(default: {default}) '
                else:
                    marker = '(optional: %(type)s) '
                parser.add_argument(flag, type=field_type, default=default, required=required,
                                    help=marker + helptext)

            else:  # A nested Hparams bundle.
                nested_prefix = f'{prefix}_{field.name}' if prefix else field.name
                nested_defaults = getattr(defaults, field.name) if defaults is not None else None
                field_type.add_args(parser, defaults=nested_defaults, prefix=nested_prefix, create_group=False)

    @classmethod
    def create_from_args(cls, args: argparse.Namespace, prefix: str = None) -> 'Hparams':
        """Build an instance from parsed flags (the inverse of `add_args`)."""
        values = {}
        for field in cls.public_fields():
            field_type = cls.field_type(field)
            if isinstance(field_type, type) and issubclass(field_type, Hparams):
                nested_prefix = f'{prefix}_{field.name}' if prefix else field.name
                values[field.name] = field_type.create_from_args(args, nested_prefix)
                continue
            dest = f'{prefix}_{field.name}' if prefix else field.name
            if not hasattr(args, dest):
                raise ValueError(f'Missing argument: {dest}.')
            values[field.name] = getattr(args, dest)
        return cls(**values)

    # ----------------------------------------------------------------------------------------------------------
    # Plain-dict form (hparams.json): every public field with its value, defaults included.
    # ----------------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """{field: value} for every public field in declaration order (nested bundles as nested dicts)."""
        return {f.name: (getattr(self, f.name).to_dict() if isinstance(getattr(self, f.name), Hparams)
                         else getattr(self, f.name)) for f in self.public_fields()}

    @classmethod
    def from_dict(cls, values: dict) -> 'Hparams':
        """The inverse of `to_dict`. Raises ValueError for a field this class does not have or lacks a required one."""
        unknown = set(values) - {f.name for f in cls.public_fields()}
        if unknown:
            raise ValueError(f'{cls.__name__} has no field(s) {", ".join(sorted(unknown))}')
        kwargs = {}
        for field in cls.public_fields():
            if field.name not in values:
                if cls.is_required(field):
                    raise ValueError(f'{cls.__name__}: missing required field {field.name}')
                continue
            field_type, value = cls.field_type(field), values[field.name]
            if isinstance(field_type, type) and issubclass(field_type, Hparams) and isinstance(value, dict):
                value = field_type.from_dict(value)
            kwargs[field.name] = value
        return cls(**kwargs)

    # ----------------------------------------------------------------------------------------------------------
    # Validation of values (called before anything is written; see cli/).
    # ----------------------------------------------------------------------------------------------------------

    def validate(self, prefix: str = None) -> None:
        """Raise HparamsError naming the flag when a value is unusable. Subclasses extend; nested bundles recurse.

        Only checks that need no dataset or model (finite positive lr, batch size >= 1, well-formed step strings)
        belong here: they run even for `--display_output_location`.
        """
        for field in self.public_fields():
            value = getattr(self, field.name)
            if isinstance(value, Hparams):
                value.validate(f'{prefix}_{field.name}' if prefix else field.name)

    @staticmethod
    def check_step_string(value: Optional[str], flag: str, allow_list: bool = False) -> None:
        """Raise HparamsError unless `value` is None or a step string the original's parser accepts.

        With `allow_list`, `value` is a comma-separated list of step strings (milestones). A step string is
        `<n>ep`, `<n>it` or `<n>ep<m>it` with no spaces, signs or leading zeros (see Step.from_str).
        """
        if value is None:
            return
        for item in (value.split(',') if allow_list else [value]):
            try:
                Step.parse_str(item)
            except ValueError:
                what = 'a comma-separated list of steps' if allow_list else 'a step'
                raise HparamsError(
                    f"argument {flag}: invalid step string {item!r} in {value!r}: expected {what} such as "
                    f"'160ep', '500it' or '3ep20it' (no spaces, signs or leading zeros)") from None

    @staticmethod
    def check_positive_finite(value: Optional[float], flag: str) -> None:
        """Raise HparamsError naming `flag` unless `value` is None or a finite number > 0."""
        if value is not None and not (math.isfinite(value) and value > 0):
            raise HparamsError(f'argument {flag}: must be a finite number > 0, got {value}')

    @staticmethod
    def check_at_least(value: Optional[int], minimum: int, flag: str) -> None:
        """Raise HparamsError naming `flag` unless `value` is None or >= `minimum`."""
        if value is not None and value < minimum:
            raise HparamsError(f'argument {flag}: must be an integer >= {minimum}, got {value}')

    @staticmethod
    def check_fraction(value: Optional[float], flag: str, include_zero: bool = False, include_one: bool = True):
        """Raise unless `value` is None or in the interval (0, 1] (ends configurable)."""
        if value is None:
            return
        low_ok = value >= 0 if include_zero else value > 0
        high_ok = value <= 1 if include_one else value < 1
        if not (math.isfinite(value) and low_ok and high_ok):
            interval = ('[' if include_zero else '(') + '0, 1' + (']' if include_one else ')')
            raise HparamsError(f'argument {flag}: must be a fraction in {interval}, got {value}')

    # ----------------------------------------------------------------------------------------------------------
    # Canonical string (THE hash input) and human-readable display.
    # ----------------------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        """`Hparams(a=1, b='x')`: required fields and fields that differ from the dataclass default, sorted by name.

        The comparison is against the field's own default, never a model preset, so `--momentum=0` (== 0.0, the
        default) vanishes from the string while `--transformation_seed=0` (!= None) stays.
        """
        entries = []
        for field in sorted(self.public_fields(), key=lambda f: f.name):
            value = getattr(self, field.name)
            if self.is_required(field) or value != field.default:
                entries.append(f'{field.name}={_render(value)}')
        return 'Hparams(' + ', '.join(entries) + ')'

    def display_with_title(self, title: str) -> str:
        """The header, then `    * <field> => <value>` for each required or truthy field, in declaration order."""
        lines = [f'    * {f.name} => {getattr(self, f.name)}' for f in self.public_fields()
                 if self.is_required(f) or getattr(self, f.name)]
        return title + '\n' + '\n'.join(lines)

    @property
    def display(self) -> str:
        """Human-readable form used in banners and `hparams.log` (titled by `_display_name` or `_name`)."""
        return self.display_with_title(getattr(self, '_display_name', self._name))


# ==============================================================================================================
# The four standard bundles. Field names, order, types and defaults are the original OpenLTH's and must not change:
# they determine every result folder's name. Help texts are copied verbatim (typos included) so `--help` matches.
# ==============================================================================================================


@dataclass
class DatasetHparams(Hparams):
    """Which dataset, the batch size (a global batch, in examples) and the dataset transformations (as the
    original). Fractions are in (0, 1]; `transformation_seed` None means 0."""

    dataset_name: str
    batch_size: int
    do_not_augment: bool = False
    transformation_seed: Optional[int] = None
    subsample_fraction: Optional[float] = None
    random_labels_fraction: Optional[float] = None
    unsupervised_labels: Optional[str] = None
    blur_factor: Optional[int] = None

    _name = 'Dataset Hyperparameters'
    _description = 'Hyperparameters that select the dataset, data augmentation, and other data transformations.'
    _dataset_name = 'The name of the dataset. Examples: mnist, cifar10'
    _batch_size = 'The size of the mini-batches on which to train. Example: 64'
    _do_not_augment = 'If True, data augmentation is disabled. It is enabled by default.'
    _transformation_seed = ('The random seed that controls dataset transformations like '
                            'random labels, subsampling, and unsupervised labels.')
    _subsample_fraction = 'Subsample the training set, retaining the specified fraction: float in (0, 1]'
    _random_labels_fraction = 'Apply random labels to a fraction of the training set: float in (0, 1]'
    _unsupervised_labels = 'Replace the standard labels with alternative, unsupervised labels. Example: rotation'
    _blur_factor = 'Blur the training set by downsampling and then upsampling by this multiple.'

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        self.check_at_least(self.batch_size, 1, flag_name('batch_size', prefix))


@dataclass
class ModelHparams(Hparams):
    """Which model, its weight and BatchNorm initializers, and which parameters are frozen (as the original)."""

    model_name: str
    model_init: str
    batchnorm_init: str
    batchnorm_frozen: bool = False
    output_frozen: bool = False
    others_frozen: bool = False
    others_frozen_exceptions: Optional[str] = None

    _name = 'Model Hyperparameters'
    _description = 'Hyperparameters that select the model, initialization, and weight freezing.'
    _model_name = 'The name of the model. Examples: mnist_lenet, cifar_resnet_20, cifar_vgg_16'
    _model_init = 'The model initializer. Examples: kaiming_normal, kaiming_uniform, binary, orthogonal'
    _batchnorm_init = 'The batchnorm initializer. Examples: uniform, fixed'
    _batchnorm_frozen = 'If True, all batch normalization parameters are frozen at initialization.'
    _output_frozen = 'If True, all outputt layer parameters are frozen at initialization.'
    _others_frozen = 'If true, all other (non-output, non-batchnorm) parameters are frozen at initialization.'
    _others_frozen_exceptions = 'A comma-separated list of any tensors that should not be frozen.'


@dataclass
class TrainingHparams(Hparams):
    """The optimizer and schedule of a training run (as the original). Steps are step strings (`160ep`, `500it`,
    `3ep20it`) converted at the dataset's iterations per epoch; `milestone_steps` is a comma-separated list."""

    optimizer_name: str
    lr: float
    training_steps: str
    data_order_seed: Optional[int] = None
    momentum: float = 0.0
    nesterov_momentum: float = 0.0
    milestone_steps: Optional[str] = None
    gamma: Optional[float] = None
    warmup_steps: Optional[str] = None
    weight_decay: Optional[float] = None
    apex_fp16: bool = False
    amp_dtype: Optional[str] = None  # New in open_lth; None (float16) keeps every existing hash.

    _name = 'Training Hyperparameters'
    _description = 'Hyperparameters that determine how the model is trained.'
    _optimizer_name = 'The opimizer with which to train the network. Examples: sgd, adam'
    _lr = 'The learning rate'
    _training_steps = "The number of steps to train as epochs ('160ep') or iterations ('50000it')."
    _data_order_seed = ('The random seed for the data order. If not set, the data order is random and '
                        'unrepeatable.')
    _momentum = 'The momentum to use with the SGD optimizer.'
    # The original misnamed this help attribute, so --nesterov_momentum has no help text; we keep that output.
    _milestone_steps = ('Steps when the learning rate drops by a factor of gamma. Written as comma-separated '
                        "steps (80ep,160ep,240ep) where steps are epochs ('160ep') or iterations ('50000it').")
    _gamma = 'The factor at which to drop the learning rate at each milestone.'
    _warmup_steps = "Steps of linear lr warmup at the start of training as epochs ('20ep') or iterations ('800it')"
    _weight_decay = 'The L2 penalty to apply to the weights.'
    _apex_fp16 = 'Whether to train the model in float16 using the NVIDIA Apex library.'
    _amp_dtype = ('With --apex_fp16, the reduced precision to train in: float16 (the default; CUDA only, with loss '
                  'scaling) or bfloat16 (CUDA or CPU, no loss scaling).')

    def __post_init__(self):
        super().__post_init__()
        if self.amp_dtype == 'float16':  # The default, spelled out: one experiment, one folder name.
            self.amp_dtype = None

    def validate(self, prefix: str = None) -> None:
        super().validate(prefix)
        self.check_positive_finite(self.lr, flag_name('lr', prefix))
        self.check_step_string(self.training_steps, flag_name('training_steps', prefix))
        self.check_step_string(self.warmup_steps, flag_name('warmup_steps', prefix))
        self.check_step_string(self.milestone_steps, flag_name('milestone_steps', prefix), allow_list=True)


@dataclass
class PruningHparams(Hparams):
    """Base pruning bundle: only the strategy name. Each strategy subclasses it with its own fields."""

    pruning_strategy: str

    _name = 'Pruning Hyperparameters'
    _description = ('Hyperparameters that determine how the model is pruned. '
                    'More hyperparameters will appear once the pruning strategy is selected.')
    _pruning_strategy = 'The pruning strategy to use.'
