"""`report` with `lottery_branch instability` results: a tiny real tree (mnist_lenet_10, 4 iterations, 2 replicates,
levels 0-1, spawn steps 0it and 2it, 3 interpolation points), built once; every instability number is checked against
the branch folders' loggers."""

import contextlib
import csv
import io
import os
import shutil
import statistics

import pytest

from tests.conftest import run_cli

FLAGS = ['--default_hparams=mnist_lenet_300_100', '--model_name=mnist_lenet_10', '--subsample_fraction=0.01',
         '--batch_size=60', '--data_order_seed=0', '--training_steps=4it']
BRANCH = ['lottery_branch', 'instability', '--levels=0-1', '--spawn_step=0it,2it', '--interpolation_points=3',
          '--interpolation_train_examples=100']
REPLICATES, LEVELS, STEPS = (1, 2), (0, 1), (0, 2)


@pytest.fixture(scope='module')
def tree(tmp_path_factory, dataset_root):
    """(root, experiment name, branch folder name), built in-process once for this module."""
    from cli.main import main
    root = str(tmp_path_factory.mktemp('instability_tree'))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('OPEN_LTH_ROOT', root)
        mp.setenv('OPEN_LTH_DATASET_ROOT', dataset_root)
        mp.setenv('OPEN_LTH_OFFLINE', '1')
        with contextlib.redirect_stdout(io.StringIO()):
            for replicate in REPLICATES:
                common = FLAGS + [f'--replicate={replicate}', '--quiet']
                assert main(['open_lth.py', 'lottery', '--levels=1'] + common) == 0
                assert main(['open_lth.py'] + BRANCH + common) == 0
    name, = [n for n in os.listdir(root) if n.startswith('lottery_')]
    branch, = [f for f in os.listdir(os.path.join(root, name, 'replicate_1', 'level_0')) if f != 'main']
    return root, name, branch


def logged(root, name, branch):
    """{(replicate, level, k): instability} read straight from the branch folders' loggers."""
    values = {}
    for replicate in REPLICATES:
        for level in LEVELS:
            path = os.path.join(root, name, f'replicate_{replicate}', f'level_{level}', branch, 'logger')
            for metric, k, value in csv.reader(open(path)):
                assert metric == 'instability'
                values[(replicate, level, int(k))] = float(value)
    assert len(values) == 8
    return values


@pytest.fixture(scope='module')
def reported(tree):
    root, name, _ = tree
    out, err = io.StringIO(), io.StringIO()
    from cli.main import main
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(['open_lth.py', 'report', f'--experiment={os.path.join(root, name)}'])
    return status, out.getvalue(), err.getvalue()


def test_runs_csv_has_the_loggers_instability_in_a_spawn_step_column(tree, reported):
    root, name, branch = tree
    status, _, err = reported
    assert status == 0, err
    rows = list(csv.DictReader(open(os.path.join(root, name, 'report', 'runs.csv'))))
    assert list(rows[0]) == ['experiment', 'branch', 'folder', 'replicate', 'level', 'metric', 'value', 'spawn_step']
    others = [r for r in rows if r['metric'] != 'instability']
    assert len(others) == 2 * 2 * 9 and all(r['folder'] == 'main' and r['spawn_step'] == '' for r in others)
    found = {(int(r['replicate']), int(r['level']), int(r['spawn_step'])): float(r['value'])
             for r in rows if r['metric'] == 'instability'}
    assert found == logged(root, name, branch)  # Exactly equal: the logger's repr read back.
    assert {r['folder'] for r in rows if r['metric'] == 'instability'} == {branch}


def test_table_shows_mean_std_and_n_per_level_and_spawn_step(tree, reported):
    root, name, branch = tree
    _, out, _ = reported
    values = logged(root, name, branch)
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith('level  remaining %  spawn step k')))
    assert lines[header - 1].startswith('instability (spawn_step=0it,2it')
    table = [line.split() for line in lines[header + 2: header + 6]]
    for level in LEVELS:
        for k in STEPS:
            pair = [values[(r, level, k)] for r in REPLICATES]
            cell = f'{statistics.mean(pair):.2f} ± {statistics.stdev(pair):.2f}'.split()
            row = next(r for r in table if r[0] == str(level) and r[2] == f'{k}it')
            assert row[3:] == cell + ['2'], (level, k)
    assert table[0][1] == '100.00' and table[2][1] == '79.99'  # main's % of weights remaining at level 1
    summary = open(os.path.join(root, name, 'report', 'summary.md')).read()
    assert '## Instability' in summary and '\n'.join(lines[header: header + 6]) in summary
    # The main table stays as it was: no column group for the instability folder.
    main_header = next(line for line in lines if line.startswith('level  remaining % |'))
    assert main_header.count('|') == 1


def test_figures_exist_have_the_expected_size_and_are_not_blank(tree, reported):
    import matplotlib.image
    root, name, _ = tree
    folder = os.path.join(root, name, 'report')
    assert {'instability.png', 'instability.svg', 'interpolation.png'} <= set(os.listdir(folder))
    for png in ('instability.png', 'interpolation.png'):
        image = matplotlib.image.imread(os.path.join(folder, png))
        assert image.shape[:2] == (500, 800)
        non_white = (image[100:400, 150:700, :3] < 0.95).any(axis=2).sum()
        assert non_white > 1000, png
    assert open(os.path.join(folder, 'instability.svg')).read().lstrip().startswith('<?xml')


def test_damaged_instability_files_are_skipped_and_reported(tree, tmp_path, capsys):
    root, name, branch = tree
    target = str(tmp_path / 'copy')
    shutil.copytree(root, target, ignore=shutil.ignore_patterns('model_*.pth', 'checkpoint.pth', 'report'))
    experiment = os.path.join(target, name)
    level_path = os.path.join(experiment, 'replicate_2', 'level_1', branch)
    open(os.path.join(level_path, 'spawn_2it', 'interpolation.csv'), 'w').write('alpha,split,loss,accuracy\n0.0,te')
    logger = os.path.join(experiment, 'replicate_1', 'level_1', branch, 'logger')
    first_line = open(logger).read().splitlines()[0]
    open(logger, 'w').write(first_line + '\n')  # Cut after spawn step 0it.
    os.remove(os.path.join(experiment, 'replicate_2', 'level_0', branch, 'spawn_0it', 'interpolation.csv'))

    status, out, err = run_cli(['report', f'--experiment={experiment}'], capsys)
    assert status == 0, err
    assert 'Traceback' not in out + err
    assert 'Skipped 3 damaged file(s) or run(s):' in out, out
    assert f'replicate_1/level_1/{branch}: logger: no instability for spawn step 2it' in out
    assert f'replicate_2/level_1/{branch}/spawn_2it/interpolation.csv: line 2 is not' in out
    assert f'replicate_2/level_0/{branch}/spawn_0it/interpolation.csv: No such file' in out
    rows = list(csv.DictReader(open(os.path.join(experiment, 'report', 'runs.csv'))))
    assert sum(r['metric'] == 'instability' for r in rows) == 6  # replicate 1's level 1 left out
    level_1 = [line.split() for line in out.splitlines() if line.split()[:1] == ['1'] and 'it' in line]
    assert [row[-1] for row in level_1] == ['1', '1']
    assert {'instability.png', 'interpolation.png'} <= set(os.listdir(os.path.join(experiment, 'report')))
