"""`get_platform()`: the platform of the running job, for code written against the original OpenLTH.

Inside open_lth the platform is passed explicitly (runners, `train`, loaders and callbacks take `platform=`). Code
written for the original instead calls `get_platform()` (`get_platform().root`, `.torch_device`,
`.is_primary_process`, `.barrier()`, `.open(...)`, ...). It returns, in this order:

1. the platform of the job that is running: `Platform.run_job` (and `train`, and a runner's `run`, when given a
   platform) sets it for their duration in a `contextvars.ContextVar` and resets it in a `finally`, so no state is
   left behind after a job and two jobs in one process (or two threads) each see their own platform;
2. outside a job, a platform installed by assigning `platforms.platform._PLATFORM` (as the original's test helper
   does);
3. otherwise a fresh local platform with the default folders (`$OPEN_LTH_ROOT`, `$OPEN_LTH_DATASET_ROOT`).
"""

import contextlib
import contextvars

_PLATFORM = None  # Installed by code written for the original; only read when no job is running.

_RUNNING = contextvars.ContextVar('open_lth_running_platform', default=None)


def get_platform():
    """The running job's platform, else the installed `_PLATFORM`, else a default `platforms.local.Platform()`."""
    running = _RUNNING.get()
    if running is not None:
        return running
    if _PLATFORM is not None:
        return _PLATFORM
    from platforms import local
    return local.Platform()


def resolve(platform=None):
    """`platform` itself, or `get_platform()` when it is None (what every `platform=None` argument means)."""
    return get_platform() if platform is None else platform


@contextlib.contextmanager
def running(platform):
    """Make `platform` what `get_platform()` returns inside the `with` block (in this thread/context only)."""
    token = _RUNNING.set(platform)
    try:
        yield platform
    finally:
        _RUNNING.reset(token)
