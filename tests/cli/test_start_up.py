"""Commands that do not train import no torch (issue 15: the fixed cost of a command).

Each command runs in a fresh interpreter, which then reports the heavy libraries it imported. The folder printed is
checked too, so a command that imported nothing because it failed would not pass.
"""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ('torch', 'torchvision', 'numpy', 'pandas', 'matplotlib', 'PIL')

PROBE = """
import json, sys
sys.path.insert(0, {repo!r})
from cli.main import main
status = main(['open_lth.py'] + {argv!r})
print(json.dumps({{'status': status, 'heavy': sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def run_fresh(argv, root):
    """(exit status, stdout lines before the report, heavy modules imported) of `open_lth.py <argv>` run in a new
    interpreter with $OPEN_LTH_ROOT=root."""
    env = dict(os.environ, OPEN_LTH_ROOT=str(root))
    code = PROBE.format(repo=REPO, argv=list(argv), heavy=HEAVY)
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=120)
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    return report['status'], lines[:-1], report['heavy'], result.stderr


LENET = ['--default_hparams=mnist_lenet_300_100']
DISPLAY_CASES = {
    'train': (['train', *LENET, '--display_output_location'],
              'train_574e51abc295d8da78175b320504f2ba/replicate_1/main'),
    'lottery': (['lottery', *LENET, '--levels=1', '--display_output_location'],
                'lottery_184ace1d6901ace6854b0a595cbd6b27/replicate_1/level_0/main'),
    'lottery_resnet_rewinding': (['lottery', '--default_hparams=cifar_resnet_20', '--levels=0',
                                  '--rewinding_steps=1000it', '--display_output_location'], None),
    'randomly_reinitialize': (['lottery_branch', 'randomly_reinitialize', *LENET, '--levels=1',
                               '--display_output_location'],
                              'lottery_184ace1d6901ace6854b0a595cbd6b27/replicate_1/level_1/'
                              'lottery_branch_randomly_reinitialize_7b99794732481fff503d5290ee43fb4b'),
    'randomly_prune': (['lottery_branch', 'randomly_prune', *LENET, '--levels=1', '--seed=7',
                        '--display_output_location'], None),
    'instability': (['lottery_branch', 'instability', *LENET, '--levels=1', '--display_output_location'],
                    'lottery_184ace1d6901ace6854b0a595cbd6b27/replicate_1/level_1/'
                    'lottery_branch_instability_7b99794732481fff503d5290ee43fb4b'),
}


@pytest.mark.parametrize('case', sorted(DISPLAY_CASES))
def test_display_output_location_imports_no_torch(case, tmp_path):
    argv, expected = DISPLAY_CASES[case]
    status, lines, heavy, stderr = run_fresh(argv, tmp_path)
    assert status == 0, stderr
    assert heavy == []
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path) + os.sep)
    if expected is not None:
        assert lines[0] == os.path.join(str(tmp_path), expected)


def test_bad_names_are_refused_as_before(tmp_path):
    """A bad initializer name is refused without torch; a model name no built-in family accepts is looked up in
    models.registry (which may hold families registered there), with the same one-line error as before."""
    status, _, heavy, stderr = run_fresh(['train', *LENET, '--model_init=gaussian', '--display_output_location'],
                                         tmp_path)
    assert (status, heavy) == (2, [])
    assert stderr.strip() == ("open_lth.py: error: argument --model_init: no initializer 'gaussian'; choose from: "
                              'kaiming_normal, kaiming_uniform, orthogonal, binary')
    status, _, heavy, stderr = run_fresh(['train', *LENET, '--model_name=mnist_lenett_300',
                                          '--display_output_location'], tmp_path)
    assert status == 2
    assert stderr.strip().startswith("open_lth.py: error: argument --model_name: no such model 'mnist_lenett_300'; "
                                     'valid names: mnist_lenet_<W>[_<W>...]')


def test_tensor_names_other_than_the_recipe_are_checked_on_the_model(tmp_path):
    """`--pruning_layers_to_ignore` naming other tensors than the recipe builds the model (and so imports torch) to
    check them: a wrong name is still refused with the list of valid ones."""
    status, _, heavy, stderr = run_fresh(['lottery', *LENET, '--levels=1', '--pruning_layers_to_ignore=fc.wieght',
                                          '--display_output_location'], tmp_path)
    assert status == 2
    assert 'torch' in heavy
    assert stderr.strip() == ("open_lth.py: error: argument --pruning_layers_to_ignore: 'fc.wieght' is not a "
                              'prunable tensor of this model; choose from: fc_layers.0.weight, fc_layers.1.weight, '
                              'fc.weight')


def test_list_imports_no_torch(tmp_path):
    """`list` reads hparams.json files and compares them with the presets without importing torch."""
    from models import families
    desc = families.get_default_hparams('mnist_lenet_300_100')
    desc.save_json(desc.run_path(1, 0, root=str(tmp_path)))
    status, lines, heavy, stderr = run_fresh(['list'], tmp_path)
    assert status == 0, stderr
    assert heavy == []
    assert len(lines) == 1
    assert lines[0].startswith('lottery_184ace1d6901ace6854b0a595cbd6b27 | lottery | mnist_lenet_300_100 on mnist, '
                               'preset | 1 replicate | no finished level')
