"""`list`, `report` and the analysis API on a real results tree: 2 replicates of a tiny `lottery --levels=2` with
a `randomly_reinitialize` branch, built once for the module; every number is checked against the files."""

import contextlib
import csv
import io
import json
import os
import re
import shutil
import statistics

import pytest

from tests.conftest import run_cli

# 600 training examples in batches of 60: 10 iterations per epoch; 2 epochs = 20 iterations, evaluated at 0, 10, 20.
FLAGS = ['--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_20_10', '--subsample_fraction=0.01',
         '--batch_size=60', '--data_order_seed=0', '--training_steps=2ep']
PRESET_DIFF = ('mnist_lenet_20_10 on mnist, batch_size=60, subsample_fraction=0.01, '
               'training_steps=2ep, data_order_seed=0')
END = 20


@pytest.fixture(scope='module')
def tree(tmp_path_factory, dataset_root):
    """(root, experiment name): the results tree, built in-process once for this module."""
    from cli.main import main
    root = str(tmp_path_factory.mktemp('tree'))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('OPEN_LTH_ROOT', root)
        mp.setenv('OPEN_LTH_DATASET_ROOT', dataset_root)
        mp.setenv('OPEN_LTH_OFFLINE', '1')
        with contextlib.redirect_stdout(io.StringIO()):
            for replicate in (1, 2):
                common = FLAGS + [f'--replicate={replicate}', '--quiet']
                assert main(['open_lth.py', 'lottery', '--levels=2'] + common) == 0
                assert main(['open_lth.py', 'lottery_branch', 'randomly_reinitialize', '--levels=0-2'] + common) == 0
    names = [n for n in os.listdir(root) if n.startswith('lottery_')]
    assert len(names) == 1
    return root, names[0]


@pytest.fixture(scope='module')
def reported(tree):
    """(exit status, stdout, stderr) of `report --experiment <name>` on the tree (run once)."""
    from cli.main import main
    root, name = tree
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        mp.setenv('OPEN_LTH_ROOT', root)
        status = main(['open_lth.py', 'report', f'--experiment={name}', '--layers'])
    return status, out.getvalue(), err.getvalue()


def run_folders(root, name):
    """{(replicate, level, folder): path} of every run folder, read straight from the disk."""
    found = {}
    for replicate in (1, 2):
        for level in (0, 1, 2):
            level_path = os.path.join(root, name, f'replicate_{replicate}', f'level_{level}')
            for folder in os.listdir(level_path):
                found[(replicate, level, 'main' if folder == 'main' else 'branch')] = os.path.join(level_path, folder)
    return found


def expected_numbers(path):
    """The metrics of one run folder computed here from its logger and sparsity report (independently of
    analysis/)."""
    lines = [line.split(',') for line in open(os.path.join(path, 'logger')).read().splitlines()]
    accuracy = {int(it): float(v) for name, it, v in lines if name == 'test_accuracy'}
    loss = {int(it): float(v) for name, it, v in lines if name == 'test_loss'}
    report = json.load(open(os.path.join(path, 'sparsity_report.json')))
    best_loss = min(loss.values())
    return {'final_test_accuracy': accuracy[END], 'best_test_accuracy': max(accuracy.values()),
            'early_stop_iteration': float(min(it for it, v in loss.items() if v == best_loss)),
            'final_test_loss': loss[END], 'min_test_loss': best_loss, 'final_iteration': float(END),
            'percent_remaining': 100 * report['unpruned'] / report['total'], 'weights_remaining': report['unpruned'],
            'weights_total': report['total']}


def test_runs_csv_matches_the_loggers_and_sparsity_reports(tree, reported):
    root, name = tree
    status, out, err = reported
    assert status == 0, err
    folders = run_folders(root, name)
    rows = list(csv.DictReader(open(os.path.join(root, name, 'report', 'runs.csv'))))
    assert len(rows) == 2 * 3 * 2 * 9  # replicates x levels x (main, branch) x metrics
    seen = set()
    for row in rows:
        kind = 'main' if row['folder'] == 'main' else 'branch'
        key = (int(row['replicate']), int(row['level']), kind)
        assert row['experiment'] == name
        assert row['branch'] == ('main' if kind == 'main' else 'randomly_reinitialize')
        assert float(row['value']) == pytest.approx(expected_numbers(folders[key])[row['metric']], rel=1e-12)
        seen.add(key + (row['metric'],))
    assert len(seen) == len(rows)
    # The IMP masks: 15,980 prunable weights, each level removes ceil(0.2 x remaining) + 1 (fc is not pruned).
    remaining = {(int(r['level'])): float(r['value']) for r in rows if r['metric'] == 'weights_remaining'}
    assert remaining == {0: 15980.0, 1: 12783.0, 2: 10225.0}


def _cell(values, scale, digits):
    mean = statistics.mean(values) * scale
    return f'{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}'


def test_table_matches_the_loggers(tree, reported):
    root, name = tree
    status, out, _ = reported
    folders = run_folders(root, name)
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('level'))
    assert 'main' in lines[header - 1] and 'randomly_reinitialize' in lines[header - 1]
    for level in (0, 1, 2):
        row = next(line for line in lines[header + 2:] if line.split()[0] == str(level))
        groups = [g.strip() for g in row.split(' | ')]
        remaining = expected_numbers(folders[(1, level, 'main')])['percent_remaining']
        assert re.split(r'\s{2,}', groups[0]) == [str(level), f'{remaining:.2f}']  # Same in every replicate.
        for group, kind in zip(groups[1:], ('main', 'branch')):
            numbers = [expected_numbers(folders[(r, level, kind)]) for r in (1, 2)]
            expected = [_cell([n['final_test_accuracy'] for n in numbers], 100, 2),
                        _cell([n['best_test_accuracy'] for n in numbers], 100, 2),
                        _cell([n['early_stop_iteration'] for n in numbers], 1, 0), '2']
            assert re.split(r'\s{2,}', group) == expected, (level, kind)
    summary = open(os.path.join(root, name, 'report', 'summary.md')).read()
    assert lines[header] in summary and 'Per-layer density' in summary
    assert 'fc_layers.0.weight' in out  # --layers


def test_figures_exist_have_the_expected_size_and_are_not_blank(tree, reported):
    import matplotlib.image
    root, name = tree
    folder = os.path.join(root, name, 'report')
    assert sorted(os.listdir(folder)) == ['accuracy_vs_sparsity.png', 'accuracy_vs_sparsity.svg', 'layers.csv',
                                          'learning_curves.png', 'runs.csv', 'summary.md']
    for png in ('accuracy_vs_sparsity.png', 'learning_curves.png'):
        image = matplotlib.image.imread(os.path.join(folder, png))
        assert image.shape[:2] == (500, 800)
        plot_area = image[100:400, 150:700, :3]
        non_white = (plot_area < 0.95).any(axis=2).sum()
        assert non_white > 1000, png
    assert open(os.path.join(folder, 'accuracy_vs_sparsity.svg')).read().lstrip().startswith('<?xml')


def test_list_shows_the_experiment_with_its_preset_diff_and_status(tree, capsys):
    root, name = tree
    status, out, err = run_cli(['list', f'--root={root}'], capsys)
    assert status == 0, err
    fields = out.strip().split(' | ')
    assert fields[:4] == [name, 'lottery', PRESET_DIFF, '2 replicates']
    assert fields[4] == 'level 2 (63.99% remaining)'
    assert fields[5] == 'branches: randomly_reinitialize'
    accuracies = [expected_numbers(run_folders(root, name)[(r, 2, 'main')])['final_test_accuracy'] for r in (1, 2)]
    assert fields[6] == f'test accuracy {100 * statistics.mean(accuracies):.2f}%'
    assert fields[7] == 'finished' and fields[8].endswith('MB') or fields[8].endswith('KB')

    status, out, _ = run_cli(['list', f'--root={root}', '--json'], capsys)
    entry = json.loads(out)
    assert (entry['experiment'], entry['status'], entry['replicates'], entry['deepest_level']) == \
        (name, 'finished', [1, 2], 2)


def test_report_finds_the_experiment_from_the_run_flags(tree, capsys, monkeypatch):
    root, name = tree
    monkeypatch.setenv('OPEN_LTH_ROOT', root)
    status, out, err = run_cli(['report'] + FLAGS + ['--display_output_location'], capsys)
    assert (status, out.strip()) == (0, os.path.join(root, name, 'report')), err
    # The lottery command as it was typed, --levels included, finds the same experiment (--levels is ignored).
    status, out, err = run_cli(['report'] + FLAGS + ['--levels=2', '--display_output_location'], capsys)
    assert (status, out.strip()) == (0, os.path.join(root, name, 'report')), err


def test_analysis_api_gives_the_rows_of_runs_csv(tree, reported):
    import pandas as pd
    from analysis import list_experiments, load_experiment, load_logger
    root, name = tree
    frame = load_experiment(os.path.join(root, name))
    csv_frame = pd.read_csv(os.path.join(root, name, 'report', 'runs.csv'))
    key = ['folder', 'replicate', 'level', 'metric']
    merged = frame.astype({'level': 'int64'}).merge(csv_frame, on=key, suffixes=('', '_csv'))
    assert len(merged) == len(frame) == len(csv_frame) == 108
    assert (merged['value'] - merged['value_csv']).abs().max() < 1e-12
    logger = load_logger(os.path.join(root, name, 'replicate_1', 'level_1', 'main'))
    assert list(logger.columns) == ['name', 'iteration', 'value']
    assert logger[logger.name == 'test_accuracy']['iteration'].tolist() == [0, 10, 20]
    experiments = list_experiments(root)
    assert experiments['experiment'].tolist() == [name] and experiments['status'].tolist() == ['finished']


def test_hparams_json_rebuilds_every_desc_and_folder_name(tree):
    from analysis.hparams_files import desc_from_json_dict
    root, name = tree
    for path in run_folders(root, name).values():
        data = json.load(open(os.path.join(path, 'hparams.json')))
        desc = desc_from_json_dict(data)
        folder = os.path.basename(path)
        assert desc.hashname == data['hashname'] == (name if folder == 'main' else folder)
        assert desc.to_json_dict() == data
        if folder != 'main':
            assert desc.lottery_desc.hashname == name


# Damaged, partial and bad input ----------------------------------------------------------------------------------

@pytest.fixture
def copy(tree, tmp_path):
    """A copy of the tree's small files and masks (weights left out) to damage; returns (root, name)."""
    root, name = tree
    target = tmp_path / 'copy'
    shutil.copytree(root, target, ignore=shutil.ignore_patterns('model_*.pth', 'checkpoint.pth', 'report'))
    return str(target), name


def one_line_error(status, out, err):
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith('open_lth.py: error: '), err
    assert 'Traceback' not in err + out


def test_truncated_logger_and_partial_level_are_reported_and_skipped(copy, capsys):
    root, name = copy
    replicate_2 = os.path.join(root, name, 'replicate_2')
    logger = os.path.join(replicate_2, 'level_1', 'main', 'logger')
    text = open(logger).read()
    open(logger, 'w').write(text[:len(text) // 2])  # Cut in the middle of a write.
    os.remove(os.path.join(replicate_2, 'level_2', 'main', 'logger'))  # Still training.

    status, out, err = run_cli(['report', f'--experiment={os.path.join(root, name)}'], capsys)
    assert status == 0, err
    assert 'Skipped 1 damaged file(s) or run(s):' in out
    assert 'replicate_2/level_1/main: logger: ' in out
    level_1 = [g.strip() for g in next(r for r in out.splitlines() if r.lstrip().startswith('1 ')).split(' | ')]
    assert level_1[1].endswith(' 1') and level_1[2].endswith(' 2')  # main: n=1 (damaged run skipped)
    level_2 = next(r for r in out.splitlines() if r.lstrip().startswith('2 '))
    assert level_2.split(' | ')[1].endswith('1 +1 partial')

    os.makedirs(os.path.join(root, 'lottery_' + '0' * 32))  # An experiment that has not started.
    status, out, err = run_cli(['list', f'--root={root}'], capsys)
    assert status == 0, err
    empty, ours = out.splitlines()
    assert empty.split(' | ')[-2:] == ['empty', '0 B'] and empty.split(' | ')[3] == '0 replicates'
    assert ours.split(' | ')[-2] == 'in progress or interrupted'


def test_folders_from_the_original_fall_back_to_hparams_log(copy, capsys):
    """hparams.log omits data_order_seed=0; the zero is recovered from the folder name."""
    root, name = copy
    for folder, _, files in os.walk(os.path.join(root, name)):
        if 'hparams.json' in files:
            os.remove(os.path.join(folder, 'hparams.json'))
    status, out, err = run_cli(['list', f'--root={root}'], capsys)
    assert status == 0, err
    fields = out.strip().split(' | ')
    assert fields[2] == PRESET_DIFF
    assert fields[5].startswith('branches: randomly_reinitialize (') and len(fields[5]) == len(
        'branches: randomly_reinitialize (12345678)')


def test_bad_input_is_one_line_and_exit_2(copy, capsys, tmp_path):
    root, name = copy
    one_line_error(*run_cli(['report', f'--experiment=lottery_{"0" * 32}'], capsys))
    one_line_error(*run_cli(['report', f'--experiment={tmp_path / "nowhere"}'], capsys))
    one_line_error(*run_cli(['list', f'--root={tmp_path / "nowhere"}'], capsys))
    # Unreadable: every logger replaced by bytes that are not text; nothing finished is left, nothing is written.
    for folder, _, files in os.walk(os.path.join(root, name)):
        if 'logger' in files:
            open(os.path.join(folder, 'logger'), 'wb').write(b'\xff\xfe\x00garbage')
    status, out, err = run_cli(['report', f'--experiment={os.path.join(root, name)}'], capsys)
    one_line_error(status, out, err)
    assert 'no finished run' in err and '12 damaged' in err
    assert not os.path.exists(os.path.join(root, name, 'report'))
    status, out, err = run_cli(['list', f'--root={root}'], capsys)
    assert status == 0 and '2 damaged (skipped)' in out, err  # list reads only the deepest level's loggers


def test_a_folder_whose_logger_has_no_test_metrics_is_left_out_not_damaged(copy, capsys):
    """The instability branch's folder holds a summary logger (`instability,<k>,<pp>`), not a training run."""
    root, name = copy
    folder = os.path.join(root, name, 'replicate_1', 'level_1', 'lottery_branch_instability_' + 'a' * 32)
    os.makedirs(folder)
    open(os.path.join(folder, 'logger'), 'w').write('instability,0,1.5\ninstability,10,0.25')
    for k in (0, 10):
        os.makedirs(os.path.join(folder, f'spawn_{k}it'))
        open(os.path.join(folder, f'spawn_{k}it', 'interpolation.csv'), 'w').write(
            'alpha,split,loss,accuracy\n0.0,test,1.0,0.5\n1.0,test,1.0,0.5\n')
    status, out, err = run_cli(['report', f'--experiment={os.path.join(root, name)}'], capsys)
    assert status == 0, err
    assert 'Skipped' not in out and 'instability' not in out.split('\n\n')[1]
    assert 'randomly_reinitialize' in out
    # Its values go to the instability section (tests/analysis/test_report_instability.py checks it in full).
    assert [line.split()[2:] for line in out.splitlines() if line.startswith('    1 ') and 'it ' in line] == \
        [['0it', '1.50', '1'], ['10it', '0.25', '1']]


@pytest.mark.parametrize('replicates, note', [([1], 'one replicate: no shading'),
                                              ([1, 2], 'shaded: one sample standard deviation')])
def test_learning_curves_say_what_the_shading_is(replicates, note, monkeypatch):
    import pandas as pd
    from analysis import figures
    monkeypatch.setattr(figures, '_finish', lambda fig, ax, **kwargs: {'png': ax.get_title()})
    curves = pd.DataFrame([{'level': level, 'replicate': r, 'iteration': it, 'value': 0.9 + 0.01 * r}
                           for level in (0, 1) for r in replicates for it in (0, 100)])
    title = figures.learning_curves(curves, {0: 100.0, 1: 80.0}, 'lottery_x')
    assert title.endswith(f'main (IMP) runs; mean over replicates, {note}')
