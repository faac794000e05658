"""Platforms: where results and datasets live, which device trains, and how processes of one job coordinate.

A platform is an explicit object handed to every runner. Code written for the original OpenLTH reaches the platform
of the running job with `platforms.platform.get_platform()` instead (see platforms/platform.py); `run_job` sets it
for the job's duration only. The base class describes a single process; `rank`, `world_size`,
`is_primary_process` and `barrier` are read from the torchrun environment so the same code runs under
`torchrun --nproc_per_node=N` (see platforms/distributed.py).
"""

import errno
import os
from dataclasses import dataclass
from typing import Optional

from foundations import locks
from foundations.hparams import Hparams
from foundations.io import FileProblem, torch_load
from platforms import platform as current


def _env_path(variable: str, default: str) -> str:
    return os.path.abspath(os.path.expanduser(os.environ.get(variable) or default))


class UnusableFolder(FileProblem):
    """The results or dataset folder cannot be created or written (the message names the variable and reason)."""


@dataclass
class Platform(Hparams):
    """A machine to run on. Only `num_workers` and `compile` are flags; the folders come from the environment or the
    caller.

    Folders (absolute paths):
      root: results, `$OPEN_LTH_ROOT` or `~/open_lth_data`.
      dataset_root: datasets, `$OPEN_LTH_DATASET_ROOT` or `~/open_lth_datasets`.
      imagenet_root: an ImageFolder tree with `train/` and `val/`, `$OPEN_LTH_IMAGENET_ROOT` or
        `<dataset_root>/imagenet`.
    `allow_download` (`$OPEN_LTH_OFFLINE=1` turns it off) lets datasets that cannot be shipped (CIFAR-10) be fetched
    with torchvision when absent. `device` defaults to CUDA when available (this process's GPU under torchrun).
    """

    num_workers: int = 0
    compile: bool = False  # New in open_lth (training/compilation.py); a job flag, never hashed.
    _root: Optional[str] = None
    _dataset_root: Optional[str] = None
    _imagenet_root: Optional[str] = None
    _device: Optional[str] = None
    _allow_download: Optional[bool] = None

    submits_jobs = False  # True for platforms that run each task of a sweep as its own job (platforms/slurm.py).

    _name = 'Platform Hyperparameters'
    _description = 'Hyperparameters that control the plaform on which the job is run.'
    _num_workers = 'The number of worker threads to use for data loading.'
    _compile = ('Compile the training step with torch.compile: faster on GPUs after a minute of compiling; '
                'results equal to float rounding.')

    def __post_init__(self):
        super().__post_init__()
        self._root = os.path.abspath(self._root) if self._root else _env_path('OPEN_LTH_ROOT', '~/open_lth_data')
        self._dataset_root = (os.path.abspath(self._dataset_root) if self._dataset_root
                              else _env_path('OPEN_LTH_DATASET_ROOT', '~/open_lth_datasets'))
        self._imagenet_root = (os.path.abspath(self._imagenet_root) if self._imagenet_root else
                               _env_path('OPEN_LTH_IMAGENET_ROOT', os.path.join(self._dataset_root, 'imagenet')))
        if self._allow_download is None:
            self._allow_download = os.environ.get('OPEN_LTH_OFFLINE', '') not in ('1', 'true', 'yes')

    def validate(self, prefix: str = None) -> None:
        self.check_at_least(self.num_workers, 0, '--num_workers')

    def check_folders(self) -> None:
        """Raise UnusableFolder, naming the environment variable, the folder and the OS reason, if the results
        folder or the dataset folder cannot be created (e.g. it lies under a regular file) or the results folder
        cannot be written. Creates nothing, so it runs before a job writes anything.
        """
        for variable, folder, what, writable in (('OPEN_LTH_ROOT', self.root, 'results', True),
                                                 ('OPEN_LTH_DATASET_ROOT', self.dataset_root, 'dataset', False)):
            existing = folder  # The folder itself or its nearest existing ancestor, which would hold it.
            while not os.path.exists(existing) and os.path.dirname(existing) != existing:
                existing = os.path.dirname(existing)
            if not os.path.isdir(existing):
                detail = '' if existing == folder else f' ({existing} is a file)'
                raise UnusableFolder(f'{variable}: cannot use {folder} as the {what} folder: '
                                     f'{os.strerror(errno.ENOTDIR)}{detail}')
            if writable and not os.access(existing, os.W_OK | os.X_OK):
                detail = '' if existing == folder else f' (in {existing})'
                raise UnusableFolder(f'{variable}: cannot use {folder} as the {what} folder: '
                                     f'{os.strerror(errno.EACCES)}{detail}')

    # Folders ------------------------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return self._root

    @property
    def dataset_root(self) -> str:
        return self._dataset_root

    @property
    def imagenet_root(self) -> str:
        return self._imagenet_root

    @property
    def allow_download(self) -> bool:
        return self._allow_download

    # Devices and processes ----------------------------------------------------------------------------------

    @property
    def local_rank(self) -> int:
        return int(os.environ.get('LOCAL_RANK', 0))

    @property
    def rank(self) -> int:
        return int(os.environ.get('RANK', 0))

    @property
    def world_size(self) -> int:
        return int(os.environ.get('WORLD_SIZE', 1))

    @property
    def is_parallel(self) -> bool:
        """Whether one process trains on several GPUs with DataParallel (the original's multi-GPU mode). False here:
        several GPUs run one process each under torchrun (DistributedDataParallel). A subclass may return True."""
        return False

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_primary_process(self) -> bool:
        """Only the primary process writes results, logs and checkpoints."""
        return self.rank == 0

    @property
    def device_str(self) -> str:
        if self._device:
            return self._device
        import torch
        if torch.cuda.is_available():
            return f'cuda:{self.local_rank}' if self.is_distributed else 'cuda'
        return 'cpu'

    @property
    def device(self) -> str:
        """The same as `device_str` (e.g. `cuda`, `cuda:1`, `cpu`)."""
        return self.device_str

    @property
    def torch_device(self) -> 'torch.device':  # noqa: F821 (torch is imported when a job runs)
        import torch
        return torch.device(self.device_str)

    def barrier(self) -> None:
        """Wait for every process of the job (no-op for a single process)."""
        import torch
        if self.is_distributed and torch.distributed.is_initialized():
            torch.distributed.barrier()

    @property
    def backend(self) -> str:
        """`nccl` when this process trains on a GPU, `gloo` on the CPU."""
        return 'nccl' if self.torch_device.type == 'cuda' else 'gloo'

    # File access (the original's API for code that reads and writes through the platform) ------------------

    @staticmethod
    def open(file, mode='r'):
        return open(file, mode)

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    @staticmethod
    def makedirs(path: str) -> None:
        os.makedirs(path, exist_ok=True)

    @staticmethod
    def isdir(path: str) -> bool:
        return os.path.isdir(path)

    @staticmethod
    def listdir(path: str):
        return os.listdir(path)

    @staticmethod
    def save_model(model, path: str, *args, **kwargs) -> None:
        """`torch.save(model, path)`."""
        import torch
        torch.save(model, path, *args, **kwargs)

    @staticmethod
    def load_model(path: str, *args, **kwargs):
        """Load a `.pth` file of plain tensors (weights_only, see foundations/io.py); map_location defaults to CPU."""
        map_location = kwargs.pop('map_location', args[0] if args else 'cpu')
        return torch_load(path, map_location=map_location)

    # Jobs -----------------------------------------------------------------------------------------------------

    def run_job(self, job) -> None:
        """Run `job()` with `get_platform()` returning this platform for its duration (reset afterwards, even on
        error); under torchrun (WORLD_SIZE > 1) inside a process group that is torn down afterwards.

        Every process runs the whole job; only the primary one writes files, and `barrier()` keeps them in step.
        """
        with current.running(self):
            self._run_job(job)

    def _run_job(self, job) -> None:
        if not self.is_distributed:
            job()
            return
        import torch
        if torch.distributed.is_initialized():
            job()
            return
        if self.torch_device.type == 'cuda':
            torch.cuda.set_device(self.torch_device)
            torch.distributed.init_process_group(backend=self.backend, device_id=self.torch_device)
        else:
            torch.distributed.init_process_group(backend=self.backend)
        try:
            job()
        finally:
            torch.distributed.destroy_process_group()

    # Sweeps (cli/sweep.py) ----------------------------------------------------------------------------------

    def run_sweep(self, tasks, runners) -> int:
        """Run the sweep's runners one after another in this process (`tasks` are their picklable descriptions,
        used by platforms that submit jobs elsewhere); returns the exit status."""
        for task, runner in zip(tasks, runners):
            self.run_runner(runner, wait_for_lock=task.wait_for_lock)
        return 0

    def run_runner(self, runner, wait_for_lock: bool = False) -> None:
        """Run `runner` as a job holding the locks of the folders it writes (foundations/locks.py); with
        `wait_for_lock`, wait for another job holding them instead of stopping."""
        self.run_job(locks.locked(runner.run, runner.lock_folders(), self, wait=wait_for_lock))
