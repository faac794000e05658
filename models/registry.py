"""Model families by name grammar, model construction (initialisation, seeding, freezing), saving and loading.

A family is a `models.base.Model` subclass; adding one is one file plus one entry in `registered_models`. The first
family whose `is_valid_model_name` accepts a name builds it.
"""

import os
from typing import Optional

import torch
import torch.nn as nn

from foundations import paths
from foundations.hparams import HparamsError, ModelHparams, flag_name
from foundations.io import DamagedFile, torch_load
from foundations.step import Step
from models import base, bn_initializers, cifar_resnet, cifar_vgg, families, imagenet_resnet, initializers, mnist_lenet

registered_models = [mnist_lenet.Model, cifar_resnet.Model, cifar_vgg.Model, imagenet_resnet.Model]


def family(model_name: str, flag: str = '--model_name'):
    """The Model class that builds `model_name`; raises HparamsError listing every family's grammar otherwise."""
    for model_class in registered_models:
        if model_class.is_valid_model_name(model_name):
            return model_class
    grammars = '; '.join(m.name_grammar for m in registered_models)
    raise HparamsError(f'argument {flag}: no such model {model_name!r}; valid names: {grammars}')


def _initializer(model_hparams: ModelHparams, prefix: Optional[str] = None):
    """The `module.apply` function of the weight and BatchNorm initializers; raises HparamsError for unknown names."""
    families.check_initializer_names(model_hparams, prefix)
    return base.init_fn_from(initializers.registered_initializers[model_hparams.model_init],
                             bn_initializers.registered_bn_initializers[model_hparams.batchnorm_init])


def _no_initialization(module: nn.Module) -> None:
    """The initializer of models built on the meta device (see `get`)."""


def _frozen_exceptions(model_hparams: ModelHparams):
    text = model_hparams.others_frozen_exceptions
    return [name for name in text.split(',')] if text else []


def validate(model_hparams: ModelHparams, prefix: Optional[str] = None) -> None:
    """Raise HparamsError (naming the flag) for an unknown model, initializer or frozen-exception name.

    Builds the model on the `meta` device, which allocates no memory and costs nothing.
    """
    with torch.device('meta'):
        get(model_hparams, prefix=prefix)


def get(model_hparams: ModelHparams, outputs: Optional[int] = None, seed: Optional[int] = None,
        prefix: Optional[str] = None) -> base.Model:
    """Build, initialise and freeze the model described by `model_hparams`.

    outputs: width of the output layer (the dataset's number of classes); None keeps the family default.
    seed: when given, initialisation draws from `torch.manual_seed(seed)` inside a forked RNG, so the same seed
      always gives the same weights and the caller's random stream is untouched.
    Freezing (Frankle et al. 2020, "Training BatchNorm and Only BatchNorm"): `batchnorm_frozen` freezes BatchNorm
    weights and biases; `output_frozen` the output layer; `others_frozen` every other parameter except those named
    in `others_frozen_exceptions`. Frozen parameters have requires_grad=False (no gradient, no weight decay).
    Raises HparamsError for unknown names.
    """
    model_class = family(model_hparams.model_name, flag_name('model_name', prefix))
    init_fn = _initializer(model_hparams, prefix)
    if torch.get_default_device().type == 'meta':
        # Built for its shapes and names only (validation, pruning counts): there are no values to initialise, and
        # initialising meta tensors goes through torch's reference kernels, whose first use costs about a second.
        init_fn = _no_initialization

    if seed is None:
        model = model_class.get_model_from_name(model_hparams.model_name, init_fn, outputs)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_class.get_model_from_name(model_hparams.model_name, init_fn, outputs)

    bn_names = [f'{name}.{p}' for name, module in model.named_modules() if isinstance(module, nn.BatchNorm2d)
                for p in ('weight', 'bias')]
    state_keys = set(model.state_dict().keys())
    exceptions = _frozen_exceptions(model_hparams)
    for name in exceptions:
        if name not in state_keys:
            raise HparamsError(f'argument {flag_name("others_frozen_exceptions", prefix)}: {name!r} is not a tensor '
                               f'of {model_hparams.model_name}; choose from: {", ".join(model.state_dict())}')

    for name, parameter in model.named_parameters():
        if name in bn_names:
            frozen = model_hparams.batchnorm_frozen
        elif name in model.output_layer_names:
            frozen = model_hparams.output_frozen
        else:
            frozen = model_hparams.others_frozen and name not in exceptions
        if frozen:
            parameter.requires_grad = False
    return model


def load(save_location: str, save_step: Step, model_hparams: ModelHparams, outputs: Optional[int] = None,
         seed: Optional[int] = None) -> base.Model:
    """A model built from `model_hparams` with the weights saved at `save_step` in `save_location`.

    `outputs` None: the width of the saved output layer (so code written for the original, which never passes it,
    loads models of datasets with any number of classes).
    Raises DamagedFile if the file cannot be read or does not hold this model's state_dict (keys and shapes).
    """
    path = paths.model(save_location, save_step)
    state = torch_load(path)
    if outputs is None:
        outputs = saved_outputs(state, model_hparams)
    model = get(model_hparams, outputs, seed=seed)
    try:
        model.load_state_dict(strip_module_prefix(state))
    except (RuntimeError, TypeError, AttributeError, ValueError):
        raise DamagedFile(path, f'it does not hold the weights of {model_hparams.model_name}') from None
    return model


def saved_outputs(state_dict, model_hparams: ModelHparams) -> Optional[int]:
    """The output width of a saved state_dict of this model (rows of its output layer's weight), or None when the
    file holds no such tensor (a damaged file is reported when it is loaded)."""
    try:
        state_dict = strip_module_prefix(state_dict)
        with torch.device('meta'):
            names = get(model_hparams).output_layer_names
        weights = [state_dict[name] for name in names if name.endswith('weight') and name in state_dict]
        return int(weights[0].shape[0]) if weights and weights[0].dim() == 2 else None
    except (AttributeError, TypeError, IndexError):
        return None


def exists(save_location: str, save_step: Step) -> bool:
    """Whether a model file for `save_step` is in `save_location`."""
    return os.path.exists(paths.model(save_location, save_step))


def strip_module_prefix(state_dict: dict) -> dict:
    """Accept state_dicts saved from a DataParallel/DistributedDataParallel wrapper (`module.` prefixed keys)."""
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return {k[len('module.'):]: v for k, v in state_dict.items()}
    return state_dict


def get_default_hparams(model_name: str):
    """The family's `LotteryDesc` preset with `model_name` substituted (e.g. cifar_resnet_56 keeps its name).

    Raises HparamsError naming `--default_hparams` for an unknown name. (models.families.get_default_hparams, which
    looks the family up here once this module is imported.)
    """
    return families.get_default_hparams(model_name)
