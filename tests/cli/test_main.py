"""The command line: choosers, help texts and flag defaults as the original prints them, and exit statuses."""

import argparse

import pytest

from tests.conftest import load_golden, run_cli

HELP = load_golden('help_defaults.json')
RAW_HELP = HELP['model_independent']['raw_help_text']

# Flags open_lth adds (hash-neutral: their defaults change nothing); compared with the original without them.
NEW_FLAGS = ('--amp_dtype', '--pretrain_amp_dtype', '--retrain_t_amp_dtype', '--wait_for_lock', '--tensorboard',
             '--concurrent', '--compile')
# Argument groups open_lth adds after the original's (their title, description and flags are all new).
NEW_GROUPS = ('Job Control Arguments', 'Sweep Arguments')


def without_new_groups(help_text: str) -> str:
    """The help text minus each group of NEW_GROUPS: the blank line before it, its title and everything up to the
    next unindented line."""
    lines, skipping = [], False
    for line in help_text.splitlines(keepends=True):
        if line.rstrip('\n').rstrip(':') in NEW_GROUPS and line.rstrip('\n').endswith(':'):
            skipping = True
            if lines and not lines[-1].strip():
                lines.pop()
            continue
        if skipping and (not line.strip() or line.startswith(' ')):
            continue
        skipping = False
        lines.append(line)
    return ''.join(lines)


def without_new_flags(help_text: str) -> str:
    """The help text minus the entries of NEW_FLAGS (an entry: its flag line and the indented lines under it)
    and minus NEW_GROUPS."""
    lines, skipping = [], False
    for line in without_new_groups(help_text).splitlines(keepends=True):
        if line.startswith('  --'):
            skipping = line.split()[0] in NEW_FLAGS
        elif not line.startswith('    '):
            skipping = False
        if not skipping:
            lines.append(line)
    return ''.join(lines)


@pytest.fixture(autouse=True)
def terminal_width(monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')  # argparse wraps help at the terminal width; the golden texts used 80.


def test_command_chooser(capsys):
    status, out, _ = run_cli([], capsys)
    assert status == 1
    original = HELP['model_independent']['raw_top_level_help (no subcommand, exit 1)'].splitlines(keepends=True)
    # The original's lines stay as they are; our subcommands come after its three, before the closing rule.
    assert out.splitlines(keepends=True) == original[:-1] + [
        '    * open_lth.py list [...] => List the experiments under the results root.\n',
        '    * open_lth.py report [...] => Report the results of an experiment: a table, CSV files and figures.\n',
    ] + original[-1:]
    status, out, _ = run_cli(['--help'], capsys)
    assert status == 1 and 'Choose a command to run:' in out


def test_branch_chooser(capsys):
    status, out, _ = run_cli(['lottery_branch'], capsys)
    assert status == 1
    original = HELP['model_independent']['raw_lottery_branch_help (no branch, exit 1)'].splitlines()
    lines = out.splitlines()
    assert lines[:len(original) - 1] == original[:-1]  # The original's lines first, exactly and in order,
    assert lines[-1] == original[-1]  # then the branches open_lth adds, then the closing rule.
    assert lines[len(original) - 1:-1] == [
        '    * open_lth.py lottery_branch instability [...] => Instability analysis: train two copies with '
        'different SGD noise and interpolate between them.']


def test_invalid_platform(capsys):
    status, out, _ = run_cli(['train', '--platform', 'nope'], capsys)
    assert (status, out) == (1, 'Invalid platform name: nope\n')


@pytest.mark.parametrize('command', [c for c in RAW_HELP if c != 'train (no args)'])
def test_help_text_matches_the_original(command, capsys):
    pytest.importorskip('models.cifar_resnet') if 'cifar' in command else None
    status, out, _ = run_cli(command.split() + ['--help'], capsys)
    assert status == 0
    assert without_new_flags(out) == RAW_HELP[command]
    assert '--amp_dtype AMP_DTYPE' in out or 'retrain' in command


def test_train_without_arguments_lists_required_flags(capsys):
    status, out, err = run_cli(['train'], capsys)
    assert status == 2
    assert err.splitlines()[-1] == ('open_lth.py: error: the following arguments are required: --dataset_name, '
                                    '--batch_size, --model_name, --model_init, --batchnorm_init, --optimizer_name, '
                                    '--lr, --training_steps')


def _flags(argv):
    """[(flag, dest, group, kind, type, default, required, help marker)] of the parser open_lth.py builds."""
    from cli import main as cli_main
    captured = {}
    original = argparse.ArgumentParser.parse_args

    def spy(self, args=None, namespace=None):
        captured['parser'] = self
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = spy
    try:
        cli_main.main(['open_lth.py'] + argv)
    finally:
        argparse.ArgumentParser.parse_args = original
    parser = captured['parser']
    rows = []
    for group in parser._action_groups:
        for action in group._group_actions:
            if not action.option_strings or action.dest == 'help':
                continue
            kind = 'store_true' if isinstance(action, argparse._StoreTrueAction) else 'value'
            marker = None
            if action.help and action.help.startswith('('):
                text = action.help.replace('%(type)s', action.type.__name__ if action.type else 'None')
                marker = text.split(')')[0] + ')'
            if action.option_strings[0] in NEW_FLAGS or group.title in NEW_GROUPS:
                continue
            rows.append({'flag': action.option_strings[0], 'dest': action.dest, 'group': group.title, 'kind': kind,
                         'type': action.type.__name__ if action.type else None, 'default': action.default,
                         'required': action.required, 'help_marker': marker})
    return rows


FLAG_CASES = [(['train'], 'train_cli_flags_no_defaults'), (['lottery'], 'lottery_cli_flags_no_defaults'),
              (['lottery', '--pruning_strategy=sparse_global'], 'lottery_cli_flags_no_defaults_with_sparse_global'),
              (['lottery', '--pruning_strategy=sparse_global', '--pretrain'], 'lottery_cli_flags_no_defaults_with_pretrain')]
for _branch in ('randomly_prune', 'randomly_reinitialize', 'retrain'):
    FLAG_CASES.append((['lottery_branch', _branch, '--default_hparams=mnist_lenet_300_100'],
                       f'lottery_branch_{_branch}_cli_flags_mnist_defaults'))


@pytest.mark.parametrize('argv, key', FLAG_CASES, ids=[k for _, k in FLAG_CASES])
def test_flags_match_the_original(argv, key, capsys):
    expected = HELP['model_independent'][key]
    ours = _flags(argv)
    if key.startswith('lottery_branch_randomly_reinitialize'):
        ours = [row for row in ours if row['flag'] != '--seed']  # Our one new, hash-neutral branch argument.
    assert ours == expected


@pytest.mark.parametrize('model_name', sorted(HELP['models']))
def test_preset_flags_match_the_original(model_name, capsys):
    from models import registry
    try:
        registry.family(model_name)
    except ValueError:
        pytest.skip('model family not registered yet')
    expected = HELP['models'][model_name]
    assert _flags(['train', f'--default_hparams={model_name}']) == expected['train_cli_flags']
    assert _flags(['lottery', f'--default_hparams={model_name}', '--pretrain']) == expected['lottery_cli_flags']
