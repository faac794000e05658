"""The `slurm` platform: the same commands, submitted to a SLURM cluster through submitit (no scheduler of our own).

`python open_lth.py <subcommand> ... --platform=slurm [--slurm_* flags]` checks every flag here, skips the runs that
are already finished, and submits the rest as one job array (one array task per replicate; for a branch, one per
replicate x level). Each array task unpickles a `SlurmJob` and a `cli.sweep.Task` (the command's parsed flags with one
replicate / level) and runs that ordinary run on the `local` platform of the node it lands on, so a cluster run writes
exactly the folders and files a local run does. With several tasks per job (`--slurm_nodes` > 1 or
`--slurm_gpus_per_node` > 1) each process is one GPU of the existing torchrun/DDP path, set up from SLURM's variables
by submitit.helpers.TorchDistributedEnvironment.

Preemption and time limits: SLURM signals the job (USR2, 90 s before its end); submitit calls
`SlurmJob.checkpoint`, which resubmits the same task, and requeues the job. The requeued run resumes from its
`checkpoint.pth`, exactly as a rerun of the command does (an interrupted epoch is redone from its start).

`--slurm_executor=local` uses submitit's LocalExecutor: the same code path, with each job a process on this machine
(for tests and for trying a sweep without a cluster). The results root and the dataset root must be on a file system
shared by the submitting machine and every node.
"""

import contextlib
import io
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import List, Optional

from foundations.hparams import HparamsError
from platforms import base, local

EXECUTORS = ('slurm', 'local')
MAX_TIMEOUT_REQUEUES = 20  # Requeues after a time limit (submitit's default, 3, is too few for week-long runs).
POLL_SECONDS = 2.0
SUBMISSIONS = 'submissions.jsonl'  # In the logs folder: one JSON line per submitted task.
LOGS = 'slurm_logs'  # The default logs folder, under the results root (`open_lth.py list` reads it there).
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Platform(base.Platform):
    """Submits jobs to SLURM with submitit; see the module docstring. Folders as in platforms/base.py. None of the
    flags enter a hash. Times are in minutes."""

    slurm_partition: Optional[str] = None
    slurm_gpus_per_node: Optional[int] = None
    slurm_cpus_per_task: Optional[int] = None
    slurm_time: int = 1440
    slurm_nodes: int = 1
    slurm_constraint: Optional[str] = None
    slurm_account: Optional[str] = None
    slurm_logs: Optional[str] = None
    no_slurm_wait: bool = False
    slurm_executor: str = 'slurm'

    submits_jobs = True

    _name = 'Platform Hyperparameters'
    _description = 'Hyperparameters that control the plaform on which the job is run.'
    _slurm_partition = 'The SLURM partition to submit to (default: the cluster\'s default partition).'
    _slurm_gpus_per_node = 'GPUs per node; one process (task) per GPU. Default: no GPU.'
    _slurm_cpus_per_task = 'CPU cores per process (task).'
    _slurm_time = 'The time limit of each job in minutes; a job that reaches it is requeued and resumes.'
    _slurm_nodes = 'Nodes per job (more than one: distributed data parallel training across nodes).'
    _slurm_constraint = 'A SLURM node constraint, e.g. volta32gb.'
    _slurm_account = 'The SLURM account to charge.'
    _slurm_logs = 'Where submitit keeps job scripts, pickles and logs (default: <results root>/slurm_logs).'
    _no_slurm_wait = 'Print the job ids and output folders and return at once (default: wait and show the output).'
    _slurm_executor = ('slurm: submit with sbatch; local: submitit\'s local executor, which runs each job as a process '
                       'on this machine.')

    @classmethod
    def add_args(cls, parser, defaults=None, prefix=None, name=None, description=None, create_group=True):
        """The fields' flags, plus `--slurm_wait` (the default; the opposite of `--no_slurm_wait`)."""
        group = parser.add_argument_group(cls._name, cls._description)
        super().add_args(group, defaults=defaults, prefix=prefix, create_group=False)
        group.add_argument('--slurm_wait', dest='no_slurm_wait', action='store_false',
                           help='(optional) Wait for the jobs and show their output (the default).')

    def validate(self, prefix: str = None) -> None:
        """Raise HparamsError naming the flag for values that cannot be submitted (nothing is written before)."""
        super().validate(prefix)
        if self.slurm_executor not in EXECUTORS:
            raise HparamsError(f'argument --slurm_executor: invalid executor {self.slurm_executor!r}; choose from: '
                               f'{", ".join(EXECUTORS)}')
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise HparamsError('argument --platform: slurm needs the submitit package (pip install submitit==1.5.4)')
        if self.slurm_executor == 'slurm' and shutil.which('sbatch') is None:
            raise HparamsError('argument --platform: slurm needs SLURM\'s sbatch on PATH; '
                               'use --slurm_executor=local to run the jobs on this machine')
        self.check_at_least(self.slurm_time, 1, '--slurm_time')
        self.check_at_least(self.slurm_gpus_per_node, 1, '--slurm_gpus_per_node')
        self.check_at_least(self.slurm_cpus_per_task, 1, '--slurm_cpus_per_task')
        self.check_at_least(self.slurm_nodes, 1, '--slurm_nodes')
        if self.slurm_executor == 'local' and self.slurm_nodes != 1:
            raise HparamsError(f'argument --slurm_nodes: the local executor runs one node, got {self.slurm_nodes}')

    @property
    def logs(self) -> str:
        return os.path.abspath(self.slurm_logs) if self.slurm_logs else os.path.join(self.root, LOGS)

    # Submission -------------------------------------------------------------------------------------------------

    def executor(self, job_name: str):
        """A submitit AutoExecutor for `--slurm_executor` with the `--slurm_*` resources."""
        import submitit
        executor = submitit.AutoExecutor(folder=self.logs, cluster=self.slurm_executor,
                                         slurm_max_num_timeout=MAX_TIMEOUT_REQUEUES,
                                         local_max_num_timeout=MAX_TIMEOUT_REQUEUES)
        # The job unpickles cli.sweep.Task: the repository must be importable wherever it runs.
        setup = [f'export PYTHONPATH={REPOSITORY}${{PYTHONPATH:+:$PYTHONPATH}}']
        executor.update_parameters(
            name=job_name, timeout_min=self.slurm_time, nodes=self.slurm_nodes,
            tasks_per_node=self.slurm_gpus_per_node or 1, gpus_per_node=self.slurm_gpus_per_node,
            cpus_per_task=self.slurm_cpus_per_task, slurm_partition=self.slurm_partition,
            slurm_constraint=self.slurm_constraint, slurm_account=self.slurm_account,
            slurm_setup=setup, local_setup=setup)
        return executor

    def run_sweep(self, tasks, runners) -> int:
        """Submit the unfinished tasks as one job array; with `--slurm_wait` stream their output until they end.

        Returns 0, or 1 when a job failed (its error is printed)."""
        if tasks and getattr(tasks[0].args, 'concurrent', False):
            raise HparamsError('argument --concurrent: replicates train together on the local platform only; on '
                               'SLURM each replicate is its own array task (drop --concurrent)')
        pending = []
        for task, runner in zip(tasks, runners):
            if runner.finished():
                print(f'Already done: {task.label} of {output_location(runner)}; not submitted.')
            else:
                runner.check_before_submission()
                pending.append((task, output_location(runner), run_folders(runner)))
        if not pending:
            return 0

        args = pending[0][0].args
        job_name = '_'.join(['open_lth', args.subcommand] + ([args.branch_name] if 'branch_name' in args else []))
        job = SlurmJob(num_workers=self.num_workers, root=self.root, dataset_root=self.dataset_root,
                       imagenet_root=self.imagenet_root, allow_download=self.allow_download, compile=self.compile)
        jobs = self.executor(job_name).map_array(job, [task for task, _, _ in pending])
        records = []
        for submitted, (task, location, runs) in zip(jobs, pending):
            print(f'Submitted job {submitted.job_id}: {task.label} of {location}')
            records.append({'job_id': str(submitted.job_id), 'task': task.label, 'location': location, 'runs': runs,
                            'executor': self.slurm_executor, 'submitted': time.strftime('%Y-%m-%dT%H:%M:%S')})
        self.record(records)
        sys.stdout.flush()
        if self.no_slurm_wait:
            return 0
        return wait(jobs, [task.label for task, _, _ in pending])

    def record(self, records: List[dict]) -> None:
        """Append one JSON line per submitted task to `<logs>/submissions.jsonl` (job_id, task, location, runs,
        executor, submitted): which folders each SLURM job writes, for `squeue`/`sacct` look-ups and for
        `open_lth.py list` (analysis/submissions.py), which shows the unfinished ones as queued or running."""
        with open(os.path.join(self.logs, SUBMISSIONS), 'a') as f:
            f.write(''.join(json.dumps(r, sort_keys=True) + '\n' for r in records))


def output_location(runner) -> str:
    """What the runner's display_output_location prints, on one line."""
    with contextlib.redirect_stdout(io.StringIO()) as text:
        runner.display_output_location()
    return ' '.join(text.getvalue().split())


def run_folders(runner) -> List[str]:
    """The run folders that are all finished (each has its `logger`) once the task is done: every level of a
    lottery replicate, else the folders display_output_location prints (one per line)."""
    if hasattr(runner, 'location') and hasattr(runner, 'levels'):  # LotteryRunner: level 0 is printed, L are run.
        return [runner.location(level) for level in range(runner.levels + 1)]
    with contextlib.redirect_stdout(io.StringIO()) as text:
        runner.display_output_location()
    return [line.strip() for line in text.getvalue().splitlines() if line.strip()]


def wait(jobs, labels: List[str]) -> int:
    """Print each job's standard output as it grows (prefixed by its label when there are several) until every job
    ends; then one line per failed job. Returns 0, 1 if a job failed, 130 on Ctrl-C (the jobs keep running)."""
    offsets = [0] * len(jobs)
    partial = [''] * len(jobs)

    def show(final: bool) -> None:
        for i, job in enumerate(jobs):
            path = job.paths.stdout
            if not path.exists():
                continue
            with open(path, 'rb') as f:
                f.seek(offsets[i])
                text = partial[i] + f.read().decode('utf-8', errors='replace')
                offsets[i] = f.tell()
            lines = text.split('\n')
            partial[i] = lines.pop()  # An unfinished last line waits for the rest, unless the job has ended.
            if final and partial[i]:
                lines.append(partial[i])
                partial[i] = ''
            prefix = f'[{labels[i]}] ' if len(jobs) > 1 else ''
            for line in lines:
                if not line.startswith('submitit INFO'):  # submitit's own progress notes stay in the log file.
                    print(prefix + line)
        sys.stdout.flush()

    try:
        while True:
            finished = all(job.done() for job in jobs)
            show(final=finished)
            if finished:
                break
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        ids = ' '.join(sorted({str(job.job_id).split('_')[0] for job in jobs}))
        print(f'\nopen_lth.py: stopped waiting; the jobs keep running (cancel them with: scancel {ids})',
              file=sys.stderr)
        return 130

    status = 0
    for job, label in zip(jobs, labels):
        error = job.exception()
        if error is not None:
            last = [line for line in str(error).strip().splitlines() if line.strip()]
            print(f'open_lth.py: error: {label} (job {job.job_id}) failed: {last[-1] if last else error}; '
                  f'see {job.paths.stderr}', file=sys.stderr)
            status = 1
    return status


@dataclass
class SlurmJob:
    """What each array task runs: one `cli.sweep.Task` on the local platform of its node, with the submitting
    machine's folders. Checkpointable in submitit's sense: on preemption or a time limit it resubmits itself and the
    requeued run resumes from `checkpoint.pth`."""

    num_workers: int
    root: str
    dataset_root: str
    imagenet_root: str
    allow_download: bool
    compile: bool = False  # --compile (training/compilation.py), carried to the nodes.

    def __call__(self, task) -> None:
        import submitit
        if submitit.JobEnvironment().num_tasks > 1:  # One process per GPU: torchrun's variables, from SLURM's.
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        platform = local.Platform(num_workers=self.num_workers, _root=self.root, _dataset_root=self.dataset_root,
                                  _imagenet_root=self.imagenet_root, _allow_download=self.allow_download,
                                  compile=self.compile)
        platform.run_runner(task.runner(platform), wait_for_lock=task.wait_for_lock)

    def checkpoint(self, task):
        """Called by submitit on preemption or timeout: run the same task again (it resumes from its checkpoint)."""
        import submitit
        return submitit.helpers.DelayedSubmission(self, task)
