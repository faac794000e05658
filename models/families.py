"""The model families' names and standard recipes, known without building a model (and without importing torch).

The command line needs a family's name grammar (to check `--model_name`) and its standard recipe
(`--default_hparams`) before it knows whether it will train: `--display_output_location` never does. Each family's
`Model` class (models/mnist_lenet.py, ...) inherits these from its `Family` here, so both always agree; building,
initialising and loading models stays in models/registry.py.

A family registered only in `models.registry.registered_models` (the original's extension point) is found there:
`family` falls back to the registry for names no built-in family accepts, and defers to it entirely once it has been
imported (so a family registered at run time is seen).
"""

import dataclasses
import sys
from typing import List, Optional, Tuple

from foundations.hparams import DatasetHparams, HparamsError, ModelHparams, TrainingHparams, flag_name


def numbers_in_name(model_name: str, family: str, min_numbers: int, max_numbers: int) -> Optional[List[int]]:
    """The positive integers after `<family>_` in a model name, e.g. `cifar_resnet_20_16` -> [20, 16] for family
    `cifar_resnet`; None unless there are `min_numbers` to `max_numbers` of them, all plain ASCII digits > 0."""
    prefix = family.split('_')
    parts = model_name.split('_')
    numbers = parts[len(prefix):]
    if parts[:len(prefix)] != prefix or not min_numbers <= len(numbers) <= max_numbers:
        return None
    if not all(part.isascii() and part.isdigit() and int(part) > 0 for part in numbers):
        return None
    return [int(part) for part in numbers]


def depth_and_width(model_name: str, family: str, valid_depth, default_width: int) -> Optional[Tuple[int, int]]:
    """(D, W) of a `<family>_<D>[_<W>]` name whose depth passes `valid_depth(D)`, W defaulting to `default_width`;
    None for any other name."""
    numbers = numbers_in_name(model_name, family, 1, 2)
    if numbers is None or not valid_depth(numbers[0]):
        return None
    return numbers[0], numbers[1] if len(numbers) == 2 else default_width


def preset(model_name: str, dataset_name: str, batch_size: int, training_hparams: TrainingHparams,
           pruning_layers_to_ignore: Optional[str] = None):
    """A family's standard recipe as a `LotteryDesc`: kaiming_normal / uniform initialisation and sparse_global
    pruning of 20% per level (every family of the original uses these)."""
    from lottery.desc import LotteryDesc
    from pruning import sparse_global
    return LotteryDesc(
        model_hparams=ModelHparams(model_name=model_name, model_init='kaiming_normal', batchnorm_init='uniform'),
        dataset_hparams=DatasetHparams(dataset_name=dataset_name, batch_size=batch_size),
        training_hparams=training_hparams,
        pruning_hparams=sparse_global.PruningHparams(pruning_strategy='sparse_global', pruning_fraction=0.2,
                                                     pruning_layers_to_ignore=pruning_layers_to_ignore))


# The CIFAR-10 recipe of the original (shared by the VGGs): 160 epochs of SGD, lr 0.1 dropped 10x at 80 and 120.
CIFAR_TRAINING = TrainingHparams(optimizer_name='sgd', momentum=0.9, milestone_steps='80ep,120ep', lr=0.1, gamma=0.1,
                                 weight_decay=1e-4, training_steps='160ep')


class Family:
    """A model family's description: `name_grammar` (shown for an invalid name), `is_valid_model_name` and
    `default_hparams` (the standard recipe, a LotteryDesc). Its `Model` class adds construction."""

    name_grammar: str = ''

    @staticmethod
    def is_valid_model_name(model_name: str) -> bool:
        raise NotImplementedError

    @staticmethod
    def default_hparams():
        raise NotImplementedError


class MnistLenet(Family):
    """`mnist_lenet_<W1>[_<W2>...]` (models/mnist_lenet.py)."""

    name_grammar = 'mnist_lenet_<W>[_<W>...] with every width W > 0 (e.g. mnist_lenet_300_100)'

    @staticmethod
    def is_valid_model_name(model_name):
        # `mnist_lenet` exactly, then widths (the original's loose prefix check also took `mnist_lenetX_300`).
        return numbers_in_name(model_name, 'mnist_lenet', 1, 10 ** 6) is not None

    @staticmethod
    def default_hparams():
        return preset('mnist_lenet_300_100', 'mnist', 128,
                      TrainingHparams(optimizer_name='sgd', lr=0.1, training_steps='40ep'), 'fc.weight')


class CifarResnet(Family):
    """`cifar_resnet_<D>[_<W>]` (models/cifar_resnet.py)."""

    name_grammar = 'cifar_resnet_<D>[_<W>] with D = 6n+2 (20, 32, 44, 56, 110, ...) and width W > 0 (default 16)'

    @staticmethod
    def parse(model_name):
        """(D, W) for a valid name, else None."""
        return depth_and_width(model_name, 'cifar_resnet', lambda depth: depth > 2 and (depth - 2) % 6 == 0, 16)

    @staticmethod
    def is_valid_model_name(model_name):
        return CifarResnet.parse(model_name) is not None

    @staticmethod
    def default_hparams():
        return preset('cifar_resnet_20', 'cifar10', 128, CIFAR_TRAINING)


class CifarVgg(Family):
    """`cifar_vgg_<D>` (models/cifar_vgg.py)."""

    DEPTHS = (11, 13, 16, 19)
    name_grammar = 'cifar_vgg_<D> with D in {11, 13, 16, 19}'

    @staticmethod
    def is_valid_model_name(model_name):
        parts = model_name.split('_')
        return len(parts) == 3 and parts[:2] == ['cifar', 'vgg'] and parts[2] in {str(d) for d in CifarVgg.DEPTHS}

    @staticmethod
    def default_hparams():
        return preset('cifar_vgg_16', 'cifar10', 128, CIFAR_TRAINING, 'fc.weight')


class ImagenetResnet(Family):
    """`imagenet_resnet_<D>[_<W>]` (models/imagenet_resnet.py)."""

    DEPTHS = (18, 34, 50, 101, 152, 200)
    name_grammar = (f'imagenet_resnet_<D>[_<W>] with D in {{{", ".join(str(d) for d in DEPTHS)}}} '
                    'and width W > 0 (default 64)')

    @staticmethod
    def parse(model_name):
        """(D, W) for a valid name, else None."""
        return depth_and_width(model_name, 'imagenet_resnet', lambda depth: depth in ImagenetResnet.DEPTHS, 64)

    @staticmethod
    def is_valid_model_name(model_name):
        return ImagenetResnet.parse(model_name) is not None

    @staticmethod
    def default_hparams():
        return preset('imagenet_resnet_50', 'imagenet', 1024, TrainingHparams(
            optimizer_name='sgd', momentum=0.9, milestone_steps='30ep,60ep,80ep', lr=0.4, gamma=0.1,
            weight_decay=1e-4, training_steps='90ep', warmup_steps='5ep'))


# In the order of models.registry.registered_models (the first family accepting a name builds it).
registered_families = [MnistLenet, CifarResnet, CifarVgg, ImagenetResnet]


def family(model_name: str, flag: str = '--model_name'):
    """The family of `model_name`: a built-in `Family` here, or the Model class registered for it in
    models.registry (imported only when no built-in family accepts the name, or when it is already imported).

    Raises HparamsError listing every family's grammar for an unknown name.
    """
    if 'models.registry' not in sys.modules:
        for family_class in registered_families:
            if family_class.is_valid_model_name(model_name):
                return family_class
    from models import registry
    return registry.family(model_name, flag)


def get_default_hparams(model_name: str):
    """The family's `LotteryDesc` preset with `model_name` substituted (e.g. cifar_resnet_56 keeps its name).

    Raises HparamsError naming `--default_hparams` for an unknown name.
    """
    preset_desc = family(model_name, '--default_hparams').default_hparams()
    preset_desc.model_hparams = dataclasses.replace(preset_desc.model_hparams, model_name=model_name)
    return preset_desc


def recipe_layers_to_ignore(model_name: str) -> Optional[str]:
    """`--pruning_layers_to_ignore` of the standard recipe of the built-in family accepting `model_name` (e.g.
    `fc.weight` for every mnist_lenet), or None (no such family, or its recipe ignores nothing)."""
    for family_class in registered_families:
        if family_class.is_valid_model_name(model_name):
            return getattr(family_class.default_hparams().pruning_hparams, 'pruning_layers_to_ignore', None)
    return None


def check_initializer_names(model_hparams: ModelHparams, prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag and the registered names) for an unknown `--model_init` or
    `--batchnorm_init`."""
    from models import bn_initializers, initializers
    checks = [('model_init', 'initializer', initializers.registered_initializers),
              ('batchnorm_init', 'batchnorm initializer', bn_initializers.registered_bn_initializers)]
    for field, what, registered in checks:
        value = getattr(model_hparams, field)
        if value not in registered:
            raise HparamsError(f'argument {flag_name(field, prefix)}: no {what} {value!r}; choose from: '
                               f'{", ".join(registered)}')


def check_names(model_hparams: ModelHparams, prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag) for an unknown model, initializer or frozen-exception name.

    Names are checked against the families and the initializer registries without building a model; only
    `--others_frozen_exceptions`, which names tensors, builds one (on the meta device, see models.registry.validate).
    """
    family(model_hparams.model_name, flag_name('model_name', prefix))
    check_initializer_names(model_hparams, prefix)
    if model_hparams.others_frozen_exceptions:
        from models import registry
        registry.validate(model_hparams, prefix)
