"""Run locks: one job at a time writes a run folder, also across machines that share the results file system.

The lock of a run folder `F` is the marker file `F.lock` beside it, a `filelock.SoftFileLease`. We use a marker
file rather than an fcntl/flock lock because exclusive creation (O_CREAT | O_EXCL) is honoured by every shared
file system we know (NFS v3 and later, Lustre, GPFS), while byte-range and flock locks are silently local or refused
on some of them (NFS mounted with `nolock` or `local_lock`, Lustre without `-o flock`). The marker records the
owner's host and pid, and a heartbeat thread renews it every `HEARTBEAT_SECONDS`. A marker left by a job that died
(`kill -9`, a node crash, a preempted SLURM job) does not block forever:
  * on the same host, the next job sees that the recorded pid is gone and takes the lock over at once;
  * from another host the pid cannot be checked, so a job that waits (`--wait_for_lock`) takes the lock over once
    it has watched the marker go `LEASE_SECONDS` without renewal (longer than NFS's default 60 s attribute cache);
    a job that does not wait stops and says how long ago the owner last renewed it.
Only the primary process of a torchrun job takes locks; it tells the others the outcome.

A job locks the folders it writes (`Runner.lock_folders`): `train` its run folder, `lottery` the replicate folder
(all its levels, which build on each other, plus the pretraining phase), a branch the branch folder of each level.
Folders the lock had to create are removed again on release if the job left them empty, so a job stopped by bad
input leaves nothing behind.
"""

import contextlib
import os
import socket
import sys
import time
from typing import Callable, List, Optional, Sequence

from filelock import SoftFileLease, Timeout

from foundations.hparams import HparamsError

LEASE_SECONDS = 120.0
HEARTBEAT_SECONDS = 10.0
POLL_SECONDS = 1.0


class LockError(HparamsError):
    """A run folder cannot be locked; the message says why, in one line."""


class RunLocked(LockError):
    """Another job holds the lock of a run folder (raised without `--wait_for_lock`)."""


def lock_path(folder: str) -> str:
    """The marker file of the run folder `folder`: `<folder>.lock`, beside it."""
    return os.path.normpath(folder) + '.lock'


def describe_owner(lease: SoftFileLease) -> str:
    """`pid 1234 on this host` or `pid 1234 on host node7, last renewed 3 s ago`, from the marker; `an unknown
    process` if it cannot be read."""
    try:
        owner = lease.owner
        age = time.time() - os.stat(lease.lock_file).st_mtime
    except OSError:
        owner = None
    if owner is None:
        return 'an unknown process'
    if owner.hostname == socket.gethostname():
        return f'pid {owner.pid} on this host'
    return f'pid {owner.pid} on host {owner.hostname}, last renewed {max(age, 0):.0f} s ago'


class RunLock:
    """The lock of one run folder (see the module docstring). `acquire(wait)` raises RunLocked naming the owner
    when another job holds it and `wait` is False, LockError when the file system refuses the lock file;
    `release()` frees it and removes the folders `acquire` created if they are still empty."""

    def __init__(self, folder: str):
        self.folder = os.path.normpath(folder)
        self.lease = SoftFileLease(lock_path(folder), lease_duration=LEASE_SECONDS,
                                   heartbeat_interval=HEARTBEAT_SECONDS, thread_local=False)
        self.created: List[str] = []

    def _make_parents(self) -> None:
        missing, parent = [], os.path.dirname(self.folder)
        while parent and not os.path.isdir(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        self.created = sorted(set(self.created) | set(missing), key=len, reverse=True)  # Deepest first.

    def acquire(self, wait: bool = False) -> None:
        waiting = False
        while True:
            try:
                self._make_parents()
                self.lease.acquire(timeout=0)
                return
            except Timeout:
                pass
            except FileNotFoundError:  # The holder released and removed the empty folders above: try again.
                continue
            except OSError as e:  # Not writable, a path under a file, a full disk: say so in one line.
                self._remove_created()
                where = e.filename or lock_path(self.folder)
                raise LockError(f'cannot lock {self.folder}: {e.strerror or e} ({where}); check $OPEN_LTH_ROOT') \
                    from None
            if not wait:
                self._remove_created()
                raise RunLocked(f'{self.folder} is in use by another job ({describe_owner(self.lease)}); wait for '
                                'it to finish, or add --wait_for_lock to wait for it')
            if not waiting:
                print(f'Waiting for {self.folder}, in use by another job ({describe_owner(self.lease)}) ...',
                      file=sys.stderr, flush=True)
                waiting = True
            time.sleep(POLL_SECONDS)

    def release(self) -> None:
        self.lease.release(force=True)
        self._remove_created()

    def _remove_created(self) -> None:
        for folder in self.created:
            try:
                os.rmdir(folder)
            except OSError:  # Not empty (the job wrote there) or already gone.
                break
        self.created = []


def _broadcast(value, platform):
    """The primary process's `value` on every process of the job (unchanged for a single process)."""
    if not platform.is_distributed:
        return value
    import torch  # Here, not at the top: this module loads without torch (a small process can hold a lock).
    if not torch.distributed.is_initialized():
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def holding(folders: Sequence[str], platform, wait: bool = False):
    """Hold the locks of `folders` for the body of the `with`; the primary process takes them, in order.

    Raises RunLocked (on every process) if another job holds one of them and `wait` is False, LockError if a lock
    file cannot be created; the locks taken so far are released first.
    """
    held: List[RunLock] = []
    error: Optional[str] = None
    try:
        if platform.is_primary_process:
            try:
                for folder in folders:
                    lock = RunLock(folder)
                    lock.acquire(wait=wait)
                    held.append(lock)
            except LockError as e:
                error = str(e)
        error = _broadcast(error, platform)
        if error is not None:
            raise LockError(error)
        yield
    finally:
        for lock in reversed(held):
            lock.release()


def locked(job: Callable[[], None], folders: Sequence[str], platform, wait: bool = False) -> Callable[[], None]:
    """`job` wrapped so that it runs holding the locks of `folders` (for `platform.run_job`)."""
    def run() -> None:
        with holding(folders, platform, wait=wait):
            job()
    return run
