"""Hparams: canonical strings, flags, display and validation."""

import argparse
from dataclasses import dataclass
from typing import Optional

import pytest

from foundations.hparams import DatasetHparams, Hparams, HparamsError, ModelHparams, TrainingHparams


@dataclass
class Example(Hparams):
    x: int
    y: Optional[str] = None
    z: str = 'default'
    w: Optional[float] = None
    flag: bool = False

    _name = 'Example Hyperparameters'
    _description = 'For tests.'
    _x = 'The x.'


@dataclass
class Nested(Hparams):
    a: int
    b: Optional[str] = None

    _name = 'Nested'
    _description = 'Nested bundle.'


@dataclass
class Outer(Hparams):
    y: Nested
    c: int = 3

    _name = 'Outer'
    _description = 'Holds a nested bundle.'


def test_missing_name_or_description():
    @dataclass
    class NoName(Hparams):
        x: int = 1
        _description = 'd'

    @dataclass
    class NoDescription(Hparams):
        x: int = 1
        _name = 'n'

    with pytest.raises(ValueError):
        NoName()
    with pytest.raises(ValueError):
        NoDescription()


def test_canonical_strings():
    assert str(Example(1)) == 'Hparams(x=1)'
    assert str(Example(1, z='5')) == "Hparams(x=1, z='5')"
    assert str(Example(1, z='default')) == 'Hparams(x=1)'
    assert str(Example(1, y='6', z='4')) == "Hparams(x=1, y='6', z='4')"
    assert str(Example(1, w=2.3)) == 'Hparams(w=2.3, x=1)'
    assert str(Example(1, flag=True)) == 'Hparams(flag=True, x=1)'
    assert str(TrainingHparams('sgd', 1e-5, '1ep')) == "Hparams(lr=1e-05, optimizer_name='sgd', training_steps='1ep')"
    assert str(TrainingHparams('sgd', 1e16, '1ep', momentum=0)) == \
        "Hparams(lr=1e+16, optimizer_name='sgd', training_steps='1ep')"
    assert str(DatasetHparams('cifar10', 128, transformation_seed=0)) == \
        "Hparams(batch_size=128, dataset_name='cifar10', transformation_seed=0)"


def test_regression_hash_input():
    """The exact hash input of the first row of the original's regression table (tests/golden)."""
    from lottery.desc import LotteryDesc
    from pruning.sparse_global import PruningHparams
    desc = LotteryDesc(ModelHparams('cifar_resnet_20', 'kaiming_normal', 'uniform'), DatasetHparams('cifar10', 128),
                       TrainingHparams('sgd', 0.1, '160ep'), PruningHparams('sparse_global'))
    assert desc.hash_input == (
        "Hparams(batch_size=128, dataset_name='cifar10');"
        "Hparams(batchnorm_init='uniform', model_init='kaiming_normal', model_name='cifar_resnet_20');"
        "Hparams(pruning_strategy='sparse_global');"
        "Hparams(lr=0.1, optimizer_name='sgd', training_steps='160ep')")
    assert desc.hashname == 'lottery_da8fd50859ba6d59aceca9d50ebcbf7e'


def parse(cls, argv, **kwargs):
    parser = argparse.ArgumentParser(exit_on_error=False)
    cls.add_args(parser, **kwargs)
    return parser, parser.parse_args(argv)


def test_flags_round_trip():
    parser, args = parse(Example, ['--x', '7', '--y', 'hello', '--flag'])
    hp = Example.create_from_args(args)
    assert hp == Example(7, y='hello', flag=True)
    assert '--_name' not in parser.format_help()


def test_required_flag_missing():
    parser = argparse.ArgumentParser()
    Example.add_args(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_defaults_and_prefix():
    parser, args = parse(Example, [], defaults=Example(7, z='hello', w=2.3), prefix='jf')
    assert Example.create_from_args(args, prefix='jf') == Example(7, z='hello', w=2.3)
    help_text = parser.format_help()
    assert '(default: 7)' in help_text and '--jf_x' in help_text
    with pytest.raises((SystemExit, argparse.ArgumentError)):
        parser.parse_args(['--x', '3'])
    with pytest.raises(ValueError):
        Example.add_args(argparse.ArgumentParser(), defaults=Nested(1))


def test_nested_flags():
    parser, args = parse(Outer, ['--y_a', '4', '--y_b', 'q'])
    assert Outer.create_from_args(args) == Outer(Nested(4, 'q'))
    assert str(Outer(Nested(4, 'q'))) == "Hparams(y=Hparams(a=4, b='q'))"
    with pytest.raises((SystemExit, argparse.ArgumentError)):
        parser.parse_args(['--y_a', '4', '--a', '3'])


def test_help_markers():
    parser, _ = parse(TrainingHparams, ['--optimizer_name', 'sgd', '--lr', '0.1', '--training_steps', '1ep'])
    actions = {a.dest: a for a in parser._actions}
    assert actions['lr'].help == '(required: %(type)s) The learning rate'
    assert actions['momentum'].help.startswith('(optional: %(type)s) ')
    assert actions['apex_fp16'].help.startswith('(optional) ')
    assert actions['nesterov_momentum'].help == '(optional: %(type)s) '  # as the original (misnamed help)


def test_display():
    hp = DatasetHparams('mnist', 128, transformation_seed=0, subsample_fraction=0.5)
    assert hp.display == ('Dataset Hyperparameters\n    * dataset_name => mnist\n    * batch_size => 128\n'
                          '    * subsample_fraction => 0.5')  # transformation_seed=0 is falsy, so hidden


def test_validation_names_the_flag():
    with pytest.raises(HparamsError, match=r'^argument --lr: must be a finite number > 0, got -1.0$'):
        TrainingHparams('sgd', -1.0, '1ep').validate()
    with pytest.raises(HparamsError, match='argument --pretrain_lr'):
        TrainingHparams('sgd', float('nan'), '1ep').validate('pretrain')
    with pytest.raises(HparamsError, match='argument --training_steps'):
        TrainingHparams('sgd', 0.1, 'abc').validate()
    with pytest.raises(HparamsError, match='argument --milestone_steps'):
        TrainingHparams('sgd', 0.1, '2ep', milestone_steps='80ep, 120ep').validate()
    with pytest.raises(HparamsError, match='argument --batch_size: must be an integer >= 1, got 0'):
        DatasetHparams('mnist', 0).validate()
    TrainingHparams('sgd', 0.1, '1ep', milestone_steps='1ep,2ep', warmup_steps='5it').validate()
