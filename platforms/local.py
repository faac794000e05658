"""The `local` platform: this machine, folders from the environment (see platforms/base.py)."""

from dataclasses import dataclass

from platforms import base


@dataclass
class Platform(base.Platform):
    """This machine: one process, or one process per GPU under torchrun; folders as in platforms/base.py."""

    def run_sweep(self, tasks, runners) -> int:
        """As base.Platform, except that with `--concurrent` the replicates train together in this process
        (cli/concurrent.py)."""
        if len(runners) > 1 and getattr(tasks[0].args, 'concurrent', False):
            from cli.concurrent import concurrent_runner
            runners = [concurrent_runner(runners)]
        return super().run_sweep(tasks, runners)
