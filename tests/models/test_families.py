"""models/families.py: the torch-free names and recipes agree with the models that models/registry.py builds."""

import pytest
import torch

from foundations.hparams import ModelHparams
from models import cifar_resnet, cifar_vgg, families, imagenet_resnet, mnist_lenet, registry

NAMES = {
    families.MnistLenet: ['mnist_lenet_300_100', 'mnist_lenet_10', 'mnist_lenet_5_5_5'],
    families.CifarResnet: ['cifar_resnet_20', 'cifar_resnet_8', 'cifar_resnet_14_4', 'cifar_resnet_56'],
    families.CifarVgg: ['cifar_vgg_11', 'cifar_vgg_16', 'cifar_vgg_19'],
    families.ImagenetResnet: ['imagenet_resnet_18', 'imagenet_resnet_50', 'imagenet_resnet_18_8'],
}
NOT_NAMES = ['mnist_lenett_300', 'mnist_lenet', 'cifar_resnet_21', 'cifar_vgg_12', 'imagenet_resnet_19', 'lenet',
             'mnist_lenet_0', 'cifar_resnet_20_0']


def test_each_model_class_is_its_family():
    for model_class, family in [(mnist_lenet.Model, families.MnistLenet), (cifar_resnet.Model, families.CifarResnet),
                                (cifar_vgg.Model, families.CifarVgg),
                                (imagenet_resnet.Model, families.ImagenetResnet)]:
        assert issubclass(model_class, family)
        assert model_class.name_grammar == family.name_grammar
        assert model_class.default_hparams() == family.default_hparams()
    assert [f.__name__ for f in families.registered_families] == ['MnistLenet', 'CifarResnet', 'CifarVgg',
                                                                  'ImagenetResnet']
    assert [m.__module__ for m in registry.registered_models] == ['models.mnist_lenet', 'models.cifar_resnet',
                                                                  'models.cifar_vgg', 'models.imagenet_resnet']


def test_depths_agree_with_the_plans():
    assert set(families.CifarVgg.DEPTHS) == set(cifar_vgg.PLANS)
    assert set(families.ImagenetResnet.DEPTHS) == set(imagenet_resnet.PLANS)


@pytest.mark.parametrize('name', [n for names in NAMES.values() for n in names] + NOT_NAMES)
def test_names_accepted_by_the_same_family(name):
    light = [f for f in families.registered_families if f.is_valid_model_name(name)]
    full = [m for m in registry.registered_models if m.is_valid_model_name(name)]
    assert [f.__name__ for f in light] == [m.__mro__[1].__name__ for m in full]
    assert bool(light) == (name not in NOT_NAMES)


@pytest.mark.parametrize('family', list(NAMES), ids=lambda f: f.__name__)
def test_recipe_ignores_tensors_every_model_of_the_family_has(family):
    """What lets --display_output_location skip building the model when the ignored tensors are the recipe's."""
    ignored = families.recipe_layers_to_ignore(NAMES[family][0])
    assert ignored == {'MnistLenet': 'fc.weight', 'CifarVgg': 'fc.weight'}.get(family.__name__)
    for name in NAMES[family]:
        assert families.recipe_layers_to_ignore(name) == ignored
        with torch.device('meta'):
            model = registry.get(ModelHparams(name, 'kaiming_normal', 'uniform'))
        for tensor in (ignored.split(',') if ignored else []):
            assert tensor in model.prunable_layer_names
        assert len(model.prunable_layer_names) > 1


def test_default_hparams_keep_the_model_name():
    preset = families.get_default_hparams('cifar_resnet_56')
    assert preset.model_hparams.model_name == 'cifar_resnet_56'
    assert preset.training_hparams.training_steps == '160ep'
    assert preset == registry.get_default_hparams('cifar_resnet_56')
