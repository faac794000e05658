"""`platforms.platform.get_platform()` as the original's extension code uses it, and the guarantee that a job leaves
no platform behind: two jobs in one process (or in two threads at once) each see their own."""

import os
import threading

import pytest
import torch

from platforms import local
from platforms import platform as platform_module
from platforms.platform import get_platform


class PlatformForTests(local.Platform):
    """Written as the original's test helper writes its platform: a subclass overriding properties."""

    @property
    def device_str(self):
        return 'cpu'

    @property
    def is_parallel(self):
        return False

    @property
    def root(self):
        return os.path.join(super().root, 'TESTING')


@pytest.fixture
def installed():
    """Install a platform the original's way (assigning `_PLATFORM`), and restore the previous one afterwards."""
    saved = platform_module._PLATFORM
    platform_module._PLATFORM = PlatformForTests(num_workers=2)
    yield platform_module._PLATFORM
    platform_module._PLATFORM = saved


def test_default_is_a_local_platform_on_the_default_folders(results_root, dataset_root):
    platform = get_platform()
    assert isinstance(platform, local.Platform)
    assert (platform.root, platform.dataset_root) == (results_root, dataset_root)
    assert (platform.rank, platform.world_size, platform.is_distributed, platform.is_parallel) == (0, 1, False, False)
    assert platform.is_primary_process and platform.num_workers == 0
    platform.barrier()  # A no-op for one process.


def test_installed_platform_is_returned_outside_a_job(installed, results_root):
    assert get_platform() is installed
    assert get_platform().root == os.path.join(results_root, 'TESTING')
    assert get_platform().num_workers == 2
    assert get_platform().torch_device == torch.device('cpu') and get_platform().device == 'cpu'


def test_run_job_sets_the_platform_for_its_duration_only(installed, platform):
    seen = []
    platform.run_job(lambda: seen.append(get_platform()))
    assert seen == [platform]
    assert get_platform() is installed  # Restored after the job ...

    def failing_job():
        seen.append(get_platform())
        raise RuntimeError('boom')
    with pytest.raises(RuntimeError):
        platform.run_job(failing_job)
    assert seen[-1] is platform and get_platform() is installed  # ... and after a job that failed.


def test_two_jobs_in_one_process_each_see_their_own_platform(tmp_path):
    first, second = (local.Platform(_root=str(tmp_path / name), _device='cpu') for name in ('first', 'second'))
    seen = {}
    first.run_job(lambda: seen.setdefault('first', get_platform().root))
    second.run_job(lambda: seen.setdefault('second', get_platform().root))
    assert seen == {'first': str(tmp_path / 'first'), 'second': str(tmp_path / 'second')}
    assert platform_module._RUNNING.get() is None and platform_module._PLATFORM is None  # Nothing left set.

    # Nested and concurrent jobs: the inner job sees its own, and each thread sees its own while both run.
    inner_roots = []
    first.run_job(lambda: (second.run_job(lambda: inner_roots.append(get_platform().root)),
                           inner_roots.append(get_platform().root)))
    assert inner_roots == [str(tmp_path / 'second'), str(tmp_path / 'first')]
    barrier, roots = threading.Barrier(2), {}

    def job(name):
        barrier.wait()  # Both jobs are running at this point.
        roots[name] = get_platform().root

    threads = [threading.Thread(target=p.run_job, args=(lambda n=n: job(n),)) for n, p in
               (('first', first), ('second', second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert roots == {'first': str(tmp_path / 'first'), 'second': str(tmp_path / 'second')}


def test_file_access_methods(tmp_path):
    platform = get_platform()
    folder = str(tmp_path / 'a' / 'b')
    platform.makedirs(folder)
    assert platform.isdir(folder) and platform.exists(folder)
    with platform.open(os.path.join(folder, 'x.txt'), 'w') as f:
        f.write('hello')
    assert platform.listdir(folder) == ['x.txt']
    state = {'w': torch.arange(3.0)}
    platform.save_model(state, os.path.join(folder, 'm.pth'))
    assert torch.equal(platform.load_model(os.path.join(folder, 'm.pth'))['w'], state['w'])


def test_a_subclass_changes_where_jobs_run(installed, results_root, capsys):
    """The original's test pattern: install a platform whose root is <root>/TESTING, then run a runner built
    without a platform; its results land under the installed platform's root."""
    from cli.main import main
    from training.desc import TrainingDesc
    from training.runner import TrainingRunner
    from foundations.hparams import DatasetHparams, ModelHparams, TrainingHparams
    desc = TrainingDesc(ModelHparams('mnist_lenet_10', 'kaiming_normal', 'uniform'),
                        DatasetHparams('mnist', 60, subsample_fraction=0.01),
                        TrainingHparams('sgd', 0.1, '2it', data_order_seed=0))
    TrainingRunner(1, desc, False).run()
    folder = desc.run_path(1)
    assert folder == os.path.join(results_root, 'TESTING', desc.hashname, 'replicate_1', 'main')
    assert {'hparams.log', 'logger', 'model_ep0_it0.pth', 'model_ep0_it2.pth'} <= set(os.listdir(folder))
    # The command line passes its own platform explicitly: the installed one does not change where it writes.
    assert main(['open_lth.py', 'train', '--default_hparams=mnist_lenet_300_100', '--display_output_location']) == 0
    assert capsys.readouterr().out.startswith(os.path.join(results_root, 'train_'))
