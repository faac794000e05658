"""The `local` platform: this machine, folders from the environment (see platforms/base.py)."""

import functools
from dataclasses import dataclass

from platforms import base


@dataclass
class Platform(base.Platform):
    """This machine: one process, or one process per GPU under torchrun; folders as in platforms/base.py."""

    def run_sweep(self, tasks, runners) -> int:
        """As base.Platform, except that with `--concurrent` the replicates train together in this process
        (cli/concurrent.py, on one device), and that with several GPUs visible and no torchrun, one worker process
        per GPU runs the sweep as under torchrun (platforms/launch.py), unless its runners use no device (`list`,
        `report`)."""
        if len(runners) > 1 and getattr(tasks[0].args, 'concurrent', False):
            from cli.concurrent import concurrent_runner
            return super().run_sweep(tasks, [concurrent_runner(runners)])
        from platforms import launch
        if runners[0].uses_devices and launch.wants_workers(self):
            return launch.run_workers(functools.partial(super().run_sweep, tasks, runners), launch.visible_devices())
        return super().run_sweep(tasks, runners)
