"""Kind 5 of issue 9: a lottery run whose pruning levels cannot all be reached is rejected before anything is
written (sparse_global's counting rule is deterministic); what still runs out mid-run stops with one line, exit 2,
and keeps the finished levels."""

import os

import pytest
import torch

from foundations.hparams import HparamsError, ModelHparams
from models import registry as models_registry
from pruning import sparse_global
from tests.conftest import load_golden, run_cli

# LeNet 10 (7,940 prunable weights; the preset keeps fc.weight, 100 of them) on 600 examples: each level trains 1 it.
INFEASIBLE = ['--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_10', '--pruning_fraction=0.9',
              '--subsample_fraction=0.01', '--batch_size=60', '--training_steps=1it', '--quiet']
MESSAGE = ('open_lth.py: error: arguments --levels/--pruning_fraction: level 2 would prune 715 weights but only 693 '
           'prunable weights are left after level 1 (each level prunes ceil(0.9 x remaining) + 1); the deepest '
           'feasible level is 1: use --levels=1 or a smaller --pruning_fraction\n')


def assert_one_line_error(status, err):
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith('open_lth.py: error: '), err
    assert 'Traceback' not in err


def test_unreachable_level_is_rejected_before_anything_is_written(results_root, capsys):
    status, out, err = run_cli(['lottery', '--levels=2'] + INFEASIBLE, capsys)
    assert_one_line_error(status, err)
    assert err == MESSAGE
    assert not os.path.exists(results_root)


def test_a_branch_on_unreachable_levels_gets_the_same_line(results_root, capsys):
    status, out, err = run_cli(['lottery_branch', 'randomly_reinitialize', '--levels=0-2'] + INFEASIBLE, capsys)
    assert_one_line_error(status, err)
    assert err == MESSAGE
    assert not os.path.exists(results_root)


def test_the_deepest_feasible_level_runs_and_prunes_the_predicted_count(capsys):
    status, out, err = run_cli(['lottery', '--levels=1'] + INFEASIBLE, capsys)
    assert status == 0, err
    status, out, _ = run_cli(['lottery', '--levels=1', '--display_output_location'] + INFEASIBLE, capsys)
    level1 = out.strip().replace('level_0', 'level_1')
    assert open(os.path.join(level1, 'sparsity_report.json')).read() == \
        '{\n    "total": 7940.0,\n    "unpruned": 793.0\n}'  # 7,940 - (ceil(0.9 x 7,940) + 1); fc.weight kept.


def test_running_out_mid_run_stops_with_one_line_and_keeps_finished_levels(capsys, monkeypatch):
    """Ties at the threshold prune more than the count foresees; simulated by switching the up-front check off."""
    monkeypatch.setattr(sparse_global.Strategy, 'check_levels', staticmethod(lambda *args: None))
    status, out, err = run_cli(['lottery', '--levels=2'] + INFEASIBLE, capsys)
    assert_one_line_error(status, err)
    assert err == ('open_lth.py: error: arguments --levels/--pruning_fraction: Cannot prune 715 weights: only 693 '
                   'prunable weights survive. Lower --pruning_fraction or --levels. Level 2 cannot be pruned; levels '
                   '0-1 are finished and kept.\n')
    status, out, _ = run_cli(['lottery', '--levels=2', '--display_output_location'] + INFEASIBLE, capsys)
    level0 = out.strip()
    for level in (0, 1):
        assert 'model_ep0_it1.pth' in os.listdir(level0.replace('level_0', f'level_{level}'))
    assert not os.path.exists(level0.replace('level_0', 'level_2'))
    status, out, err = run_cli(['lottery', '--levels=1'] + INFEASIBLE, capsys)  # The finished levels are intact.
    assert status == 0, err


PRUNING = load_golden('pruning.json')
WITHOUT_TIES = [case for case in PRUNING['cases']
                if all(step.get('pruned_this_step') == step.get('ceil_fraction_times_remaining_before', -2) + 1
                       for step in case['steps'])]


@pytest.mark.parametrize('case', WITHOUT_TIES, ids=[str(case['id']) for case in WITHOUT_TIES])
def test_predicted_counts_match_the_originals_recorded_counts(case):
    with torch.device('meta'):
        model = models_registry.get(ModelHparams(case['model_name'], 'kaiming_normal', 'uniform'))
    hparams = sparse_global.PruningHparams('sparse_global', case['pruning_fraction'], case['pruning_layers_to_ignore'])
    ignored = sum(case['layer_sizes'][name] for name in sparse_global.layers_to_ignore(hparams))
    levels = len(case['steps'])
    assert sparse_global.feasible_levels(hparams, model, levels) == \
        (levels, 0, case['steps'][-1]['remaining_total'] - ignored)
    sparse_global.Strategy.check_levels(hparams, model, levels)


def test_fraction_zero_prunes_one_weight_per_level_until_none_is_left():
    with torch.device('meta'):
        model = models_registry.get(ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform'))
    hparams = sparse_global.PruningHparams('sparse_global', 0.0, 'fc.weight')
    assert sparse_global.feasible_levels(hparams, model, 7840) == (7840, 0, 0)
    with pytest.raises(HparamsError, match='the deepest feasible level is 7840: use --levels=7840'):
        sparse_global.Strategy.check_levels(hparams, model, 7841)
