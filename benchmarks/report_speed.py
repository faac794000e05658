"""How long `list` and `report` take on synthetic results (no training): `list` over 1,000 lottery experiments
(2 replicates x levels 0-3 each) and `report` over one experiment of 20 pruning levels (0-20) x 5 replicates x main
and 3 branches (randomly_reinitialize, randomly_prune layerwise and global), with LeNet-300-100-sized masks.

Run by hand: `python benchmarks/report_speed.py [folder]` (default: a temporary folder, removed afterwards). Prints
the time of each command run in-process (the interpreter and torch already loaded) and as a fresh
`python open_lth.py ...` process, wall-clock and CPU seconds (on a shared machine the CPU time is what the
single-threaded command takes alone), and the ratio of the in-process CPU time to the 2 s target.
"""

import contextlib
import io
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import torch  # noqa: E402

from cli.main import main  # noqa: E402
from foundations import paths  # noqa: E402
from lottery.branch import registry as branch_registry  # noqa: E402
from models import registry as models_registry  # noqa: E402

TARGET_S = 2.0
EPOCHS = 40  # test metrics at every epoch, as a default MNIST run logs them
IPE = 469


def logger_text(seed: float) -> str:
    lines = []
    for ep in range(EPOCHS + 1):
        it = ep * IPE
        accuracy = 0.98 - 0.5 * math.exp(-ep / 2) - 0.001 * seed
        lines += [f'test_loss,{it},{0.05 + 2 * math.exp(-ep / 3) + 0.0001 * ep}', f'test_accuracy,{it},{accuracy}',
                  f'test_examples,{it},10000.0']
    return '\n'.join(lines)


def write_run(folder: str, desc, level: int, seed: float, total: float = 266200.0, mask_source: str = None) -> None:
    os.makedirs(folder, exist_ok=True)
    desc.save_json(folder)
    with open(paths.logger(folder), 'w') as f:
        f.write(logger_text(seed))
    with open(paths.sparsity_report(folder), 'w') as f:
        json.dump({'total': total, 'unpruned': float(round(total * 0.8 ** level))}, f, indent=4)
    if mask_source:
        os.link(mask_source, paths.mask(folder))


def make_list_tree(root: str, experiments: int = 1000) -> None:
    preset = models_registry.get_default_hparams('mnist_lenet_300_100')
    for i in range(experiments):
        desc = preset.__class__.from_json_dict(preset.to_json_dict())
        desc.training_hparams.lr = 0.1 + i * 1e-4
        for replicate in (1, 2):
            for level in range(4):
                folder = desc.run_path(root=root, replicate=replicate, pruning_level=level)
                write_run(folder, desc, level, replicate)
            with open(paths.hparams(desc.run_path(root=root, replicate=replicate, pruning_level=0)), 'w') as f:
                f.write(desc.display)


def make_report_tree(root: str, levels: int = 20, replicates: int = 5) -> str:
    desc = models_registry.get_default_hparams('mnist_lenet_300_100')
    model = models_registry.get(desc.model_hparams, seed=0)
    masks = os.path.join(root, 'masks')
    os.makedirs(masks)
    for level in range(levels + 1):  # One mask per level, hard-linked into every run folder of that level.
        mask = {name: (torch.rand_like(model.state_dict()[name]) < 0.8 ** level).int()
                for name in model.prunable_layer_names}
        torch.save(mask, os.path.join(masks, f'{level}.pth'))
    reinitialize, prune = branch_registry.get('randomly_reinitialize'), branch_registry.get('randomly_prune')
    branches = [reinitialize.BranchDesc(desc, reinitialize.hparams_class()())]
    branches += [prune.BranchDesc(desc, prune.hparams_class()(seed=1, strategy=s)) for s in ('layerwise', 'global')]
    for replicate in range(1, replicates + 1):
        for level in range(levels + 1):
            mask = os.path.join(masks, f'{level}.pth')
            write_run(desc.run_path(root=root, replicate=replicate, pruning_level=level), desc, level, replicate,
                      mask_source=mask)
            for branch in branches:
                folder = desc.run_path(root=root, replicate=replicate, pruning_level=level,
                                       experiment=branch.hashname)
                write_run(folder, branch, level, replicate + 10, mask_source=mask)
    return desc.hashname


def timed_in_process(argv):
    """(wall seconds, CPU seconds of this process, stdout). On a shared machine the CPU time is what the command
    would take alone (it is single-threaded)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = main(['open_lth.py'] + argv)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert status == 0, out.getvalue()
    return elapsed, cpu, out.getvalue()


def timed_process(argv, root):
    """(wall seconds, CPU seconds) of `python open_lth.py <argv>` as a new process (interpreter and torch start)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(REPO, 'open_lth.py')] + argv, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, OPEN_LTH_ROOT=root))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def bench(root: str) -> None:
    list_root, report_root = os.path.join(root, 'list'), os.path.join(root, 'report')
    make_list_tree(list_root)
    name = make_report_tree(report_root)
    os.environ['OPEN_LTH_ROOT'] = report_root

    for label, argv, where in [('list (1,000 experiments)', ['list', f'--root={list_root}'], list_root),
                               ('report (21 levels x 5 replicates x main + 3 branches)',
                                ['report', f'--experiment={name}'], report_root)]:
        runs = [timed_in_process(argv)[:2] for _ in range(3)]
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        process_wall, process_cpu = timed_process(argv, where)
        print(f'{label}: in-process best {wall:.2f} s wall, {cpu:.2f} s CPU; as a new process {process_wall:.2f} s '
              f'wall, {process_cpu:.2f} s CPU; ratio of in-process CPU time to the {TARGET_S:.0f} s target: '
              f'{cpu / TARGET_S:.2f}')
    lines = timed_in_process(['list', f'--root={list_root}'])[2].count('\n')
    print(f'(list printed {lines} lines; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)')


if __name__ == '__main__':
    if len(sys.argv) > 1:
        bench(sys.argv[1])
    else:
        folder = tempfile.mkdtemp(prefix='open_lth_report_speed_')
        try:
            bench(folder)
        finally:
            shutil.rmtree(folder)
