"""`lottery_branch instability` on a tiny trunk: exact endpoints, identical children, masks, the lottery's
initialisation, folders, bad input, and resuming after SIGKILL during the second child and during the interpolation."""

import csv
import os
import signal
import subprocess
import sys

import pytest
import torch

from lottery.branch import instability
from pruning.mask import Mask
from tests.conftest import REPO, run_cli
from tests.lottery.test_runner import TINY, level_dir, load, location, run_ok

TRUNK = ['--training_steps=3ep']  # 30 iterations of 10 per epoch.
BRANCH = ['lottery_branch', 'instability'] + TINY + TRUNK
SMALL = ['--interpolation_points=5', '--interpolation_train_examples=250']
DEFAULT_FOLDER = 'lottery_branch_instability_7b99794732481fff503d5290ee43fb4b'  # MD5 of 'Hparams()'.


@pytest.fixture
def trunk(capsys):
    """A 2-level lottery trunk (levels 0 and 1, 3 epochs each); returns its level_0/main folder."""
    argv = ['lottery'] + TINY + TRUNK + ['--levels=1']
    run_ok(argv, capsys)
    return location(capsys, argv)


def branch(capsys, *args):
    argv = BRANCH + list(args)
    run_ok(argv, capsys)
    return run_ok(argv + ['--display_output_location'], capsys).split()


def final_metrics(folder, end=30):
    """(test loss, test accuracy) at the end of training (iteration `end`) from a run's logger."""
    values = dict(((name, int(it)), float(v)) for name, it, v in csv.reader(open(os.path.join(folder, 'logger'))))
    return values[('test_loss', end)], values[('test_accuracy', end)]


def rows(folder, split='test'):
    return [(a, loss, acc) for a, s, loss, acc in instability.read_interpolation(folder) if s == split]


def logger_lines(folder):
    return open(os.path.join(folder, 'logger')).read().splitlines()


def test_endpoints_masks_initialisation_and_files(trunk, capsys):
    folders = branch(capsys, '--levels=0,1', '--spawn_step=0it,1ep', *SMALL)
    assert [os.path.basename(f) for f in folders] == ['lottery_branch_instability_b0901468e22c0cf627c38557d0641a3b'] * 2
    assert [os.path.basename(os.path.dirname(f)) for f in folders] == ['level_0', 'level_1']
    for level, folder in enumerate(folders):
        assert sorted(os.listdir(folder)) == ['hparams.json', 'logger', 'spawn_0it', 'spawn_10it', 'trunk']
        assert sorted(os.listdir(os.path.join(folder, 'trunk'))) == ['checkpoint.pth', 'model_ep0_it0.pth',
                                                                     'model_ep1_it0.pth']
        mask = Mask.load(level_dir(trunk, level))
        for k in (0, 10):
            spawn = os.path.join(folder, f'spawn_{k}it')
            assert sorted(os.listdir(spawn)) == ['child_a', 'child_b', 'interpolation.csv', 'logger']
            a, b = (os.path.join(spawn, child) for child in ('child_a', 'child_b'))
            assert sorted(os.listdir(a)) == ['checkpoint.pth', 'logger', f'model_ep{k // 10}_it0.pth',
                                             'model_ep3_it0.pth']
            # Both children start from the trunk at k and end apart (different data orders).
            start = load(os.path.join(folder, 'trunk', f'model_ep{k // 10}_it0.pth'))
            for child in (a, b):
                assert all(torch.equal(v, start[n]) for n, v in load(os.path.join(child, f'model_ep{k // 10}_it0.pth')
                                                                     ).items())
            end_a, end_b = (load(os.path.join(c, 'model_ep3_it0.pth')) for c in (a, b))
            assert not torch.equal(end_a['fc_layers.0.weight'], end_b['fc_layers.0.weight'])

            # The endpoints are the children, exactly: the same loss and accuracy as their own final evaluation.
            test_rows = rows(spawn)
            assert [r[0] for r in test_rows] == [0.0, 0.25, 0.5, 0.75, 1.0]
            assert test_rows[0][1:] == final_metrics(a)
            assert test_rows[-1][1:] == final_metrics(b)
            assert len(rows(spawn, 'train')) == 5
            assert open(os.path.join(spawn, 'interpolation.csv')).readline() == 'alpha,split,loss,accuracy\n'

            # instability = max test error - mean endpoint error, in percentage points.
            errors = [1 - r[2] for r in test_rows]
            expected = 100 * (max(errors) - (errors[0] + errors[-1]) / 2)
            assert logger_lines(spawn)[0] == f'instability,{k},{expected}'
            assert logger_lines(spawn)[1].startswith(f'train_instability,{k},')
            assert expected >= 0

            # No interpolated network revives a pruned weight.
            for alpha in instability.alphas(7):
                for state in (instability.interpolate_state(end_a, end_b, alpha),
                              instability.interpolate_state(end_a, end_b, alpha, mask)):
                    for name, m in mask.items():
                        assert int(torch.count_nonzero(state[name][m == 0])) == 0
        assert [line.rsplit(',', 1)[0] for line in logger_lines(folder)] == ['instability,0', 'instability,10']

    # Level 0 at 0it: the lottery's own initialisation, bit for bit, for the trunk and both children.
    init = open(os.path.join(trunk, 'model_ep0_it0.pth'), 'rb').read()
    for relative in ('trunk', 'spawn_0it/child_a', 'spawn_0it/child_b'):
        assert open(os.path.join(folders[0], relative, 'model_ep0_it0.pth'), 'rb').read() == init

    # Level 1 starts from the rewind point times its mask; its children keep the mask to the end.
    mask = Mask.load(level_dir(trunk, 1))
    level1_start = load(os.path.join(level_dir(trunk, 1), 'model_ep0_it0.pth'))
    trunk_start = load(os.path.join(folders[1], 'trunk', 'model_ep0_it0.pth'))
    assert all(torch.equal(v, level1_start[n]) for n, v in trunk_start.items())
    end = load(os.path.join(folders[1], 'spawn_0it', 'child_b', 'model_ep3_it0.pth'))
    assert all(int(torch.count_nonzero(end[n][m == 0])) == 0 for n, m in mask.items())

    status, out, err = run_cli(BRANCH + ['--levels=0,1', '--spawn_step=0it,1ep'] + SMALL, capsys)
    assert status == 0 and out == '' and err == ''  # A rerun trains and evaluates nothing (--quiet).


def test_identical_children_give_a_flat_path(trunk, capsys, monkeypatch):
    monkeypatch.setattr(instability, 'child_data_order_seed', lambda noise_seed: 7)  # The same data order.
    folder = branch(capsys, '--levels=1', *SMALL)[0]
    assert os.path.basename(folder) == 'lottery_branch_instability_76dfc9c27f40137dd1dfa439d8eb1f73'
    spawn = os.path.join(folder, 'spawn_0it')
    end_a, end_b = (load(os.path.join(spawn, c, 'model_ep3_it0.pth')) for c in ('child_a', 'child_b'))
    assert all(torch.equal(v, end_b[n]) for n, v in end_a.items())
    for split in ('test', 'train'):
        values = rows(spawn, split)
        assert len(values) == 5 and len({r[1:] for r in values}) == 1  # Flat: one loss and one accuracy.
    assert logger_lines(spawn) == ['instability,0,0.0', 'train_instability,0,0.0']

    # A damaged result is reported in one line and left for the user to delete, never silently overwritten.
    table = os.path.join(spawn, 'interpolation.csv')
    open(table, 'w').write('alpha,split,loss\n0.0,test,x\n')
    status, out, err = run_cli(BRANCH + ['--levels=1'] + SMALL, capsys)
    assert status == 2 and err.count('\n') == 1
    assert err.startswith(f'open_lth.py: error: damaged file {table}: it is not an alpha,split,loss,accuracy table; '
                          'delete it and the logger beside it')
    assert open(table).read() == 'alpha,split,loss\n0.0,test,x\n'


def test_interpolate_state_is_exact_at_the_ends_and_between_equal_values():
    a = {'w': torch.tensor([1.0, -0.0, 3.0, 2.0]), 'n': torch.tensor(4)}
    b = {'w': torch.tensor([3.0, 5.0, 3.0, 0.1]), 'n': torch.tensor(9)}
    assert instability.interpolate_state(a, b, 0.0)['w'] is a['w']
    assert instability.interpolate_state(a, b, 1.0)['w'] is b['w']
    middle = instability.interpolate_state(a, b, 0.25)
    assert middle['w'][:3].tolist() == [1.5, 1.25, 3.0]  # Equal values (3.0) stay exactly as they are.
    assert middle['w'][3].item() == pytest.approx(1.525)
    assert middle['n'] == 4 and instability.interpolate_state(a, b, 0.5)['n'] == 9
    mask = Mask({'w': torch.tensor([1, 0, 1, 0])})
    assert instability.interpolate_state(a, b, 0.5, mask)['w'].tolist() == [2.0, 0.0, 3.0, 0.0]
    assert instability.alphas(3) == [0.0, 0.5, 1.0] and len(instability.alphas(30)) == 30
    assert instability.instability([0.9, 0.9, 0.9]) == 0.0
    assert instability.instability([0.98, 0.5, 0.96]) == pytest.approx(100 * (0.5 - 0.03))


def test_recompute_batchnorm_uses_the_batches_and_keeps_momentum():
    class Net(torch.nn.Module):
        memory_format = torch.contiguous_format

        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(2, momentum=0.3)

        def forward(self, x):
            return self.bn(x)

    net = Net()
    data = torch.randn(8, 2, 3, 3, generator=torch.Generator().manual_seed(0)) * 3 + 1
    instability.recompute_batchnorm(net, [(data[:4], None), (data[4:], None)])
    assert torch.allclose(net.bn.running_mean, data.mean(dim=(0, 2, 3)), atol=1e-6)
    assert net.bn.momentum == 0.3 and int(net.bn.num_batches_tracked) == 2


def test_first_examples_cuts_the_pass(platform):
    from datasets import base
    dataset = base.InMemoryDataset(torch.zeros(10, 2, 2, dtype=torch.uint8), list(range(10)), 10, [0.0], [1.0])
    loader = base.Loader(dataset, batch_size=4, train=False)
    assert [y.tolist() for _, y in instability.FirstExamples(loader, 6)] == [[0, 1, 2, 3], [4, 5]]
    assert sum(len(y) for _, y in instability.FirstExamples(loader, 100)) == 10


def test_batchnorm_network_exact_by_default_and_recomputed_with_reset_batchnorm(capsys, monkeypatch, cifar_root):
    monkeypatch.setenv('OPEN_LTH_DATASET_ROOT', cifar_root)  # Fake CIFAR-10: 100 training images, 2 it/epoch.
    cifar = ['--default_hparams=cifar_resnet_8', '--subsample_fraction=0.002', '--batch_size=50',
             '--data_order_seed=0', '--quiet', '--training_steps=2ep']
    run_ok(['lottery'] + cifar + ['--levels=0'], capsys)
    common = ['lottery_branch', 'instability'] + cifar + ['--levels=0', '--interpolation_points=3',
                                                           '--interpolation_train_examples=100']
    results = {}
    for extra in ([], ['--reset_batchnorm']):
        run_ok(common + extra, capsys)
        spawn = os.path.join(location(capsys, common + extra), 'spawn_0it')
        results[bool(extra)] = rows(spawn)
        a, b = os.path.join(spawn, 'child_a'), os.path.join(spawn, 'child_b')
        assert len(rows(spawn, 'train')) == 3
    # Default: the children's own running statistics, so the endpoints are exactly the children.
    assert (results[False][0][1:], results[False][-1][1:]) == (final_metrics(a, 4), final_metrics(b, 4))
    # --reset_batchnorm: statistics recomputed on the training images, so even the endpoints evaluate differently.
    assert results[True][0][1:] != results[False][0][1:] and results[True][-1][1:] != results[False][-1][1:]


BAD = [
    (['--spawn_step=4ep'], 'argument --spawn_step: spawn step 40it is not between the rewind point (0it) and the end '
                           'of training (30it, --training_steps=3ep); choose steps from 0it to 29it'),
    (['--spawn_step=3ep'], 'argument --spawn_step: spawn step 30it is not between the rewind point (0it) and the end'),
    (['--spawn_step=0it,1e'], "argument --spawn_step: invalid step string '1e' in '0it,1e'"),
    (['--spawn_step=0it,'], "argument --spawn_step: invalid step string '' in '0it,'"),
    (['--noise_seeds='], "argument --noise_seeds: expected two different integer seeds separated by a comma, e.g. "
                         "1,2; got ''"),
    (['--noise_seeds=1'], "argument --noise_seeds: expected two different integer seeds"),
    (['--noise_seeds=1,2,3'], "argument --noise_seeds: expected two different integer seeds"),
    (['--noise_seeds=3,3'], "argument --noise_seeds: the two seeds must differ (equal seeds train identical children); "
                            "got '3,3'"),
    (['--interpolation_points=1'], 'argument --interpolation_points: must be an integer >= 2, got 1'),
    (['--interpolation_train_examples=0'], 'argument --interpolation_train_examples: must be an integer >= 1'),
]


@pytest.mark.parametrize('args, message', BAD, ids=[a[0] for a, _ in BAD])
@pytest.mark.parametrize('display', [False, True])
def test_bad_input(args, message, display, capsys, results_root):
    argv = BRANCH + ['--levels=0'] + args + (['--display_output_location'] if display else [])
    status, out, err = run_cli(argv, capsys)
    assert (status, out) == (2, '')
    assert err.startswith(f'open_lth.py: error: {message}') and err.count('\n') == 1
    assert not os.path.exists(results_root)


def test_spawn_step_before_the_rewind_point(capsys, results_root):
    status, _, err = run_cli(BRANCH + ['--levels=0', '--rewinding_steps=5it', '--spawn_step=0it,7it'], capsys)
    assert status == 2
    assert err.startswith('open_lth.py: error: argument --spawn_step: spawn step 0it is not between the rewind point '
                          '(5it)')
    assert 'choose steps from 5it to 29it' in err and not os.path.exists(results_root)


def test_branch_hash_covers_only_its_own_flags(capsys):
    def folder(*args):
        return os.path.basename(run_ok(BRANCH + ['--levels=0', '--display_output_location'] + list(args), capsys))

    assert folder().strip() == DEFAULT_FOLDER
    assert folder('--spawn_step=0it').strip() == DEFAULT_FOLDER  # Defaults spelled out: the same experiment.
    assert folder('--noise_seeds=1,2', '--interpolation_points=30').strip() == DEFAULT_FOLDER
    assert folder('--noise_seeds=2,1').strip() != DEFAULT_FOLDER
    assert folder('--reset_batchnorm').strip() == 'lottery_branch_instability_793cb624d025674eb26a8c5f98254e3f'
    # The trunk's flags choose the lottery folder, never the branch's name.
    assert os.path.basename(run_ok(BRANCH + ['--levels=0', '--lr=0.2', '--display_output_location'], capsys)
                            .strip()) == DEFAULT_FOLDER


# Resuming after SIGKILL (subprocesses) ---------------------------------------------------------------------------

KILLER = '''
import os, signal, sys
sys.path.insert(0, {repo!r})
phase = {phase!r}
if phase == 'second_child':  # Right after child b's checkpoint at the start of epoch 2 is written.
    from training import checkpointing
    save = checkpointing.atomic_torch_save
    def killing_save(obj, path):
        save(obj, path)
        if 'child_b' in path and obj.get('ep') == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    checkpointing.atomic_torch_save = killing_save
else:  # At the third interpolated network.
    from lottery.branch import instability
    interpolate, calls = instability.interpolate_state, []
    def killing_interpolate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return interpolate(*args, **kwargs)
    instability.interpolate_state = killing_interpolate
from cli.main import main
sys.exit(main(['open_lth.py'] + sys.argv[1:]))
'''


def run_killed(argv, phase, env):
    script = KILLER.format(repo=REPO, phase=phase)
    result = subprocess.run([sys.executable, '-c', script] + argv, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == -signal.SIGKILL, result.stderr


def files(folder):
    """{relative path: contents} of every file under `folder` (.pth files as their loaded tensors)."""
    result = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            result[relative] = load(path) if name.endswith('.pth') else open(path).read()
    return result


def same(x, y):
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    return x == y


@pytest.mark.slow
def test_killed_during_second_child_and_interpolation_resumes_to_identical_files(trunk, capsys, results_root,
                                                                                  dataset_root, tmp_path,
                                                                                  monkeypatch):
    argv = BRANCH + ['--levels=1', '--spawn_step=5it'] + SMALL
    folder = location(capsys, argv)
    spawn = os.path.join(folder, 'spawn_5it')
    env = dict(os.environ, OPEN_LTH_ROOT=results_root, OPEN_LTH_DATASET_ROOT=dataset_root, OPEN_LTH_OFFLINE='1')

    run_killed(argv, 'second_child', env)
    assert torch.load(os.path.join(spawn, 'child_b', 'checkpoint.pth'), weights_only=True)['ep'] == 2
    assert os.path.exists(os.path.join(spawn, 'child_a', 'logger'))
    assert not os.path.exists(os.path.join(spawn, 'child_b', 'logger'))

    run_killed(argv, 'interpolation', env)
    assert os.path.exists(os.path.join(spawn, 'child_b', 'logger'))
    assert not os.path.exists(os.path.join(spawn, 'interpolation.csv'))

    result = subprocess.run([sys.executable, os.path.join(REPO, 'open_lth.py')] + argv, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    resumed = files(folder)

    monkeypatch.setenv('OPEN_LTH_ROOT', str(tmp_path / 'uninterrupted'))
    run_ok(['lottery'] + TINY + TRUNK + ['--levels=1'], capsys)
    run_ok(argv, capsys)
    uninterrupted = files(folder.replace(results_root, str(tmp_path / 'uninterrupted')))
    assert sorted(resumed) == sorted(uninterrupted)
    assert len(resumed) == 15  # hparams.json included
    assert all(same(resumed[name], uninterrupted[name]) for name in resumed), \
        [name for name in resumed if not same(resumed[name], uninterrupted[name])]
