"""Every golden case of hashnames_visible.json: the same output location as the original, or a clean error.

The rules for applying the cases are in tests/golden/README.md (branches print real levels; the inputs the original
accepted but we reject are listed there and in README.md, "Where open_lth differs").
"""

import math
import os

import pytest

from foundations.step import Step
from tests.conftest import load_golden, run_cli

CASES = load_golden('hashnames_visible.json')


def _flag_value(argv, flag):
    """The value given to `flag` (either `--flag=v` or `--flag v`), or None."""
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(flag + '='):
            return token.split('=', 1)[1]
    return None


def _known_model(name: str) -> bool:
    from models import registry
    try:
        registry.family(name)
    except Exception:
        return False
    return True


def _we_reject(case) -> bool:
    """Inputs the original accepted and we reject (see tests/golden/README.md)."""
    argv = case['argv']
    replicate = _flag_value(argv, '--replicate')
    if replicate is not None and int(replicate) < 1:
        return True
    lr = _flag_value(argv, '--lr')
    if lr is not None and not (math.isfinite(float(lr)) and float(lr) > 0):
        return True
    batch_size = _flag_value(argv, '--batch_size')
    if batch_size is not None and int(batch_size) < 1:
        return True
    model_name = _flag_value(argv, '--model_name')
    if model_name is not None and not _known_model(model_name):
        return True  # A well-formed but unknown name: rejected by --display_output_location too.
    labels = _flag_value(argv, '--unsupervised_labels')
    if labels is not None and labels != 'rotation':
        return True
    for flag in ('--training_steps', '--rewinding_steps', '--pretrain_training_steps', '--milestone_steps',
                 '--warmup_steps', '--training'):
        value = _flag_value(argv, flag)
        for item in (value.split(',') if value else []):
            try:
                Step.parse_str(item)
            except ValueError:
                return True
    return False


def _expected_locations(case, root):
    location = case['output_location_relative_to_root']
    if case['subcommand'] == 'lottery_branch':
        from lottery.branch.base import parse_levels
        levels = parse_levels(_flag_value(case['argv'], '--levels'))
        return [os.path.join(root, location.replace('level_None', f'level_{level}')) for level in levels]
    return [os.path.join(root, location)]


@pytest.mark.parametrize('case', CASES, ids=[f"{c['id']}-{c['subcommand']}" for c in CASES])
def test_case(case, capsys, results_root):
    status, out, err = run_cli(case['argv'][1:] if case['argv'][0] == 'open_lth.py' else case['argv'], capsys)

    if 'error' in case or _we_reject(case):
        assert status == (1 if case.get('error_kind') == 'help_text_printed' else 2), (out, err)
        assert 'Traceback' not in err
        if case.get('error_kind') == 'help_text_printed':
            assert case['error'].splitlines()[0] in out
        else:
            assert err.count('\n') == 1 or err.startswith('usage:'), err  # One line, or argparse's usage+line.
            assert 'open_lth.py: error:' in err
        assert not os.path.exists(results_root)
        return

    assert status == 0, err
    assert out.splitlines() == _expected_locations(case, results_root)
    assert not os.path.exists(results_root)


def test_md5_inputs_are_our_canonical_strings(capsys):
    """The string we hash equals the one the original hashed, for every location case."""
    from cli.main import main  # noqa: F401 - imported for the registry side effects
    import hashlib
    for case in CASES:
        for entry in case.get('md5_inputs', []):
            assert hashlib.md5(entry['input'].encode()).hexdigest() == entry['md5']
