"""A branch written the original's way, registered and run through `lottery_branch`, does what the same branch
written today's way does; `make_BranchDesc`, `create_from_hparams` and the construction of branches the original's
way work."""

import os

import pytest
import torch

from foundations.hparams import Hparams
from lottery.branch import registry
from lottery.branch.desc import make_BranchDesc
from tests.compat import toy_branches
from tests.conftest import run_cli
from tests.lottery.test_runner import TINY, load, location, run_ok

TRUNK = ['--training_steps=3it']


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(registry.registered_branches, 'toy_original', toy_branches.OriginalBranch)
    monkeypatch.setitem(registry.registered_branches, 'toy_today', toy_branches.TodaysBranch)


@pytest.fixture
def trunk(capsys, registered):
    argv = ['lottery'] + TINY + TRUNK + ['--levels=1']
    run_ok(argv, capsys)
    return location(capsys, argv)


def test_original_style_branch_runs_like_todays(trunk, capsys):
    folders = {}
    for name in ('toy_original', 'toy_today'):
        argv = ['lottery_branch', name] + TINY + TRUNK + ['--levels=0-1', '--retrain_lr=0.05']
        run_ok(argv, capsys)
        folders[name] = run_ok(argv + ['--display_output_location'], capsys).split()
    # The folder name hashes only the branch's arguments, which are the same.
    original, today = folders['toy_original'], folders['toy_today']
    assert [os.path.basename(f) for f in original] == [os.path.basename(f).replace('toy_today', 'toy_original')
                                                       for f in today]
    assert [os.path.basename(os.path.dirname(f)) for f in original] == ['level_0', 'level_1']
    for a, b in zip(original, today):
        assert sorted(os.listdir(a)) == sorted(os.listdir(b))
        assert {'mask.pth', 'model_ep0_it0.pth', 'model_ep0_it3.pth', 'logger'} <= set(os.listdir(a))
        end_a, end_b = load(os.path.join(a, 'model_ep0_it3.pth')), load(os.path.join(b, 'model_ep0_it3.pth'))
        assert all(torch.equal(end_a[k], end_b[k]) for k in end_a)
        with open(os.path.join(a, 'logger')) as fa, open(os.path.join(b, 'logger')) as fb:
            assert fa.read() == fb.read()
    trunk_end = load(os.path.join(trunk, 'model_ep0_it3.pth'))  # retrain_lr 0.05 differs from the trunk's run.
    assert not torch.equal(trunk_end['fc.weight'], end_a['fc.weight'])


def test_branch_menu_and_hparams(registered, capsys):
    status, out, _ = run_cli(['lottery_branch'], capsys)
    assert status == 1
    assert 'toy_original [...] => Retrain the ticket (written the original way).' in out
    branch_hparams = toy_branches.OriginalBranch.BranchHparams
    assert issubclass(branch_hparams, Hparams) and branch_hparams._name == 'Branch Arguments'
    assert str(branch_hparams(retrain_lr=0.05)) == "Hparams(retrain_lr=0.05)"


def test_original_construction_and_make_BranchDesc(registered):
    """create_from_hparams and a desc from make_BranchDesc, as original-style scripts build branches."""
    from lottery.desc import LotteryDesc
    from models import registry as models_registry
    preset = models_registry.get_default_hparams('mnist_lenet_300_100')
    branch_desc_class = make_BranchDesc(toy_branches.OriginalBranch.BranchHparams, 'toy_original')
    desc = branch_desc_class(preset, toy_branches.OriginalBranch.BranchHparams(retrain_lr=0.05))
    assert desc.hashname.startswith('lottery_branch_toy_original_')
    assert desc.hashname == toy_branches.OriginalBranch.BranchDesc(preset, desc.branch_hparams).hashname
    branch = toy_branches.OriginalBranch(1, [0], desc)  # The original's positional fields; verbose=False.
    assert (branch.verbose, branch.level, branch.platform) == (False, None, None)
    created = toy_branches.OriginalBranch.create_from_hparams(1, [0], preset, desc.branch_hparams)
    assert created.desc.hashname == branch.desc.hashname and created.desc.branch_hparams == branch.desc.branch_hparams
    assert isinstance(created.lottery_desc, LotteryDesc)


def test_branch_type_errors_at_definition():
    from lottery.branch import base

    with pytest.raises(ValueError, match='needs a type annotation'):
        class Untyped(base.Branch):
            def branch_function(self, x):
                pass

    with pytest.raises(ValueError, match='Invalid branch type'):
        class BadType(base.Branch):
            def branch_function(self, x: list):
                pass
