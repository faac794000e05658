"""Every visible GPU from the plain command: `python open_lth.py ...` with several GPUs visible (and no torchrun)
starts one worker process per GPU itself, as `torchrun --standalone --nproc_per_node=<GPUs>` would, and each
worker runs the job under torch.distributed exactly as under torchrun (same folders, same results).

The original OpenLTH used every visible GPU through DataParallel; DistributedDataParallel is faster and is the path
our torchrun runs already take, so the plain command now takes it too. `CUDA_VISIBLE_DEVICES` restricts the GPUs
(`CUDA_VISIBLE_DEVICES=0 python open_lth.py ...` trains on one). `$OPEN_LTH_PRETEND_DEVICES=N` makes a machine
without GPUs launch N CPU workers (gloo), for the tests.
"""

from __future__ import annotations  # modules that import torch are imported by the functions that use them

import os
import socket
import sys


PRETEND_VARIABLE = 'OPEN_LTH_PRETEND_DEVICES'


def visible_devices() -> int:
    """The GPUs this process sees (`$OPEN_LTH_PRETEND_DEVICES` when set)."""
    import torch
    pretend = os.environ.get(PRETEND_VARIABLE)
    if pretend:
        return int(pretend)
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def wants_workers(platform) -> bool:
    """Whether to launch one worker per device: more than one visible, no torchrun around us (no WORLD_SIZE), and
    no device forced on the platform."""
    return 'WORLD_SIZE' not in os.environ and platform._device is None and visible_devices() > 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_workers(job, world_size: int) -> int:
    """Run `job()` (picklable; it returns an exit status) in `world_size` worker processes with torchrun's
    environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); returns the first non-zero exit status
    of the workers, or 0. Bad input met by the workers is printed once (by rank 0) as the usual one-line error and
    gives status 2; an unexpected exception prints the worker's traceback and gives 1."""
    import torch
    port = free_port()
    statuses = torch.multiprocessing.get_context('spawn').Array('i', world_size)
    try:
        torch.multiprocessing.start_processes(_worker, args=(world_size, port, job, statuses), nprocs=world_size,
                                              join=True, start_method='spawn')
    except torch.multiprocessing.ProcessExitedException as failure:
        return failure.exit_code if failure.exit_code and failure.exit_code > 0 else 1
    except torch.multiprocessing.ProcessRaisedException as failure:
        print(str(failure).rstrip(), file=sys.stderr)
        return 1
    return next((status for status in statuses if status), 0)


def _worker(rank: int, world_size: int, port: int, job, statuses) -> None:
    import torch
    if 'OMP_NUM_THREADS' not in os.environ:  # As torchrun does for several processes: one thread each, which also
        os.environ['OMP_NUM_THREADS'] = '1'  # makes float reductions, hence results, equal to torchrun's.
        torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    from cli.main import error_exit
    from datasets.errors import DatasetUnavailable
    from foundations.hparams import HparamsError
    from foundations.io import FileProblem
    try:
        statuses[rank] = job() or 0
    except (HparamsError, DatasetUnavailable, FileProblem) as error:
        statuses[rank] = error_exit(str(error)) if rank == 0 else 2
    except KeyboardInterrupt:
        statuses[rank] = 130
    sys.stdout.flush()
