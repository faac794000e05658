"""`--replicates`: parsing, its place in --help, and `--replicate` (and its abbreviations) keeping their meaning."""

import os

import pytest

from cli.sweep import parse_replicates
from foundations.hparams import HparamsError
from tests.conftest import run_cli
from tests.lottery.test_runner import TINY

TRAIN = ['train'] + TINY + ['--model_name=mnist_lenet_10', '--training_steps=2it']


@pytest.mark.parametrize('text, replicates', [('1', [1]), ('1-5', [1, 2, 3, 4, 5]), ('2,4-5,3', [2, 3, 4, 5]),
                                              ('3-3', [3]), ('1,1', [1])])
def test_parse_replicates(text, replicates):
    assert parse_replicates(text) == replicates


@pytest.mark.parametrize('text', ['3-1', '0-2', '0', '1-', '-1', '1,,2', '', '1-2-3', 'a', ' 1'])
def test_parse_replicates_rejects(text):
    with pytest.raises(HparamsError, match='^argument --replicates: '):
        parse_replicates(text)


@pytest.mark.parametrize('flag', ['--replicate=2', '--replicate', '--rep=2', '--replicat=2'])
def test_replicate_and_its_abbreviations_still_mean_replicate(flag, capsys):
    argv = TRAIN + ([flag, '2'] if flag == '--replicate' else [flag]) + ['--display_output_location']
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert out.strip().split(os.sep)[-2:] == ['replicate_2', 'main']


def test_replicates_comes_last_in_help(capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    status, out, _ = run_cli(TRAIN + ['--help'], capsys)
    assert status == 0
    group, entry = out.split('\n\n')[-2:]
    assert group == 'Sweep Arguments:\n  Arguments that run several copies of the same job in one command.'
    assert ' '.join(entry.split()) == (
        '--replicates REPLICATES (optional: str) Run several replicates, each an ordinary run in its own '
        'replicate_<n> folder: a range or a comma-separated list, e.g. 1-5 or 1,3,7. Overrides --replicate.')


def test_local_sweep_runs_each_replicate_as_an_ordinary_run(capsys):
    status, _, err = run_cli(TRAIN + ['--replicates=2,4'], capsys)
    assert status == 0, err
    for replicate in (1, 2, 3, 4):
        location = run_cli(TRAIN + [f'--replicate={replicate}', '--display_output_location'], capsys)[1].strip()
        assert os.path.exists(os.path.join(location, 'logger')) == (replicate in (2, 4))
    status, out, _ = run_cli([a for a in TRAIN if a != '--quiet'] + ['--replicates=2,4'], capsys)
    assert status == 0 and out.count('Already done') == 2
