"""Kind 8 of issue 9: the command line is consistent. A --levels selection with no level is an error;
--display_output_location rejects a well-formed but unknown name exactly as a run does (without loading data: a
known dataset that is not installed still has a location); --pruning_fraction=0 prunes one weight per level."""

import os

import pytest

from tests.conftest import run_cli

MNIST = ['--default_hparams=mnist_lenet_300_100']
BRANCH = ['lottery_branch', 'randomly_reinitialize'] + MNIST


def assert_one_line_error(status, err):
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith('open_lth.py: error: '), err
    assert 'Traceback' not in err


@pytest.mark.parametrize('display', [False, True], ids=['run', 'display'])
@pytest.mark.parametrize('levels', ['3-1', '2,5-4'])
def test_a_levels_range_with_no_level_is_an_error(levels, display, results_root, capsys):
    status, out, err = run_cli(BRANCH + [f'--levels={levels}'] + (['--display_output_location'] if display else []),
                               capsys)
    assert_one_line_error(status, err)
    bad = levels.split(',')[-1]
    low, high = sorted(bad.split('-'))
    assert err == (f"open_lth.py: error: argument --levels: the range '{bad}' in '{levels}' contains no level: a range "
                   f"goes from its lower level to its higher one, e.g. '{low}-{high}'\n")
    assert out == ''
    assert not os.path.exists(results_root)


UNKNOWN = [
    (['train'] + MNIST + ['--model_name=mnist_lenet_x'], '--model_name'),
    (['train'] + MNIST + ['--unsupervised_labels=bogus'], '--unsupervised_labels'),
    (['train'] + MNIST + ['--dataset_name=svhn'], '--dataset_name'),
    (['train'] + MNIST + ['--optimizer_name=lion'], '--optimizer_name'),
    (['train'] + MNIST + ['--model_init=zeros'], '--model_init'),
    (['lottery', '--levels=1'] + MNIST + ['--model_name=mnist_lenet_x'], '--model_name'),
    (['lottery', '--levels=1'] + MNIST + ['--pruning_layers_to_ignore=bogus.weight'], '--pruning_layers_to_ignore'),
    (['lottery', '--levels=1', '--pretrain', '--pretrain_training_steps=1ep'] + MNIST +
     ['--pretrain_unsupervised_labels=bogus'], '--pretrain_unsupervised_labels'),
    (BRANCH + ['--levels=0', '--unsupervised_labels=bogus'], '--unsupervised_labels'),
]


@pytest.mark.parametrize('argv, flag', UNKNOWN, ids=[f'{argv[0]}{flag}' for argv, flag in UNKNOWN])
def test_display_output_location_rejects_an_unknown_name_as_a_run_does(argv, flag, results_root, capsys):
    status, out, run_err = run_cli(argv, capsys)
    assert_one_line_error(status, run_err)
    assert run_err.startswith(f'open_lth.py: error: argument {flag}: ')

    status, out, err = run_cli(argv + ['--display_output_location'], capsys)
    assert_one_line_error(status, err)
    assert err == run_err
    assert out == ''
    assert not os.path.exists(results_root)


def test_a_known_dataset_that_is_not_installed_still_has_a_location(results_root, capsys):
    status, out, err = run_cli(['train', '--default_hparams=cifar_resnet_20', '--display_output_location'], capsys)
    # The folder of golden case 6 (tests/golden/hashnames_visible.json); CIFAR-10 is absent from the test datasets.
    assert (status, err) == (0, '')
    assert out == os.path.join(results_root, 'train_71bc92a970b64a76d7ab7681764b0021', 'replicate_1', 'main') + '\n'
    status, _, err = run_cli(['train', '--default_hparams=cifar_resnet_20'], capsys)  # The run needs the data.
    assert status == 2 and 'cifar' in err.lower()
    assert not os.path.exists(os.path.join(results_root, 'train_71bc92a970b64a76d7ab7681764b0021'))


def test_pruning_fraction_zero_prunes_one_weight_per_level(capsys):
    """As the original (README, "Where open_lth differs" documents it): ceil(0 x remaining) + 1 = 1."""
    argv = ['lottery'] + MNIST + ['--model_name=mnist_lenet_10', '--pruning_fraction=0', '--subsample_fraction=0.01',
                                  '--batch_size=60', '--training_steps=1it', '--levels=2', '--quiet']
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    _, out, _ = run_cli(argv + ['--display_output_location'], capsys)
    for level in (1, 2):
        report = open(os.path.join(out.strip().replace('level_0', f'level_{level}'), 'sparsity_report.json')).read()
        assert report == f'{{\n    "total": 7940.0,\n    "unpruned": {7940.0 - level}\n}}'
