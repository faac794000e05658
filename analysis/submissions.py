"""Runs submitted to SLURM that are not finished yet, for `open_lth.py list`.

The slurm platform (platforms/slurm.py) appends one JSON line per submitted task to
`<results root>/slurm_logs/submissions.jsonl`: job_id, task (`replicate_<n>` or `replicate_<n>/level_<L>`),
location, runs (the run folders the task finishes; older lines have only location), executor, submitted. Here each
line becomes a `Submission` of the experiment its folders are in; the latest line of a task wins (a resubmission
replaces the job). A task whose run folders all hold a non-empty `logger` is finished on disk and never shown.

Job states come from at most one `squeue -h -r -o '%i %T'` call (`-r`: one line per array task, `<id>_<task>`),
made only when the file exists and `squeue` is on PATH. A job squeue no longer knows has ended (its runs are not
finished on disk: it failed or was cancelled) and is not shown. Without squeue, when it fails, or for submitit's local
executor, a submission is `submitted (job <id>), state unknown`. Damaged lines are skipped: never a traceback.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Optional

from analysis.results import EXPERIMENT_NAME
from platforms.slurm import LOGS, SUBMISSIONS

SQUEUE_TIMEOUT_SECONDS = 10
STATE_WORDS = {'PENDING': 'queued'}  # Other squeue states are shown in lower case (running, completing, ...).


@dataclass
class Submission:
    """One submitted task: `runs` are its run folders relative to the experiment (`replicate_1/level_0/main`)."""

    experiment: str
    task: str
    job_id: str
    executor: str
    runs: List[str]
    state: Optional[str] = None  # squeue's state (PENDING, RUNNING, ...), None when unknown.

    @property
    def text(self) -> str:
        """`replicate_1 queued on SLURM (job 123_0)` or `replicate_1 submitted (job 123_0), state unknown`."""
        if self.state is None:
            return f'{self.task} submitted (job {self.job_id}), state unknown'
        return f'{self.task} {STATE_WORDS.get(self.state, self.state.lower())} on SLURM (job {self.job_id})'

    def as_json(self) -> dict:
        return {'job_id': self.job_id, 'task': self.task, 'executor': self.executor, 'state': self.state,
                'text': self.text}


def _in_experiment(path: str):
    """(experiment folder name, path relative to it) for a run folder path, or None. Matched by the folder name,
    so that records stay valid when the results root is mounted elsewhere."""
    parts = [p for p in os.path.normpath(path).split(os.sep) if p]
    for index in range(len(parts) - 1, -1, -1):
        if EXPERIMENT_NAME.match(parts[index]):
            return parts[index], '/'.join(parts[index + 1:])
    return None


def _parse(line: str) -> Optional[Submission]:
    try:
        record = json.loads(line)
        runs = record.get('runs') or [record['location']]
        located = [_in_experiment(str(run)) for run in runs]
        if not located or None in located or len({experiment for experiment, _ in located}) != 1:
            return None
        return Submission(located[0][0], str(record['task']), str(record['job_id']), str(record.get('executor')),
                          [relative for _, relative in located])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read(root: str) -> List[Submission]:
    """The latest submission of each task recorded under `root` (empty when there is no submissions.jsonl)."""
    path = os.path.join(root, LOGS, SUBMISSIONS)
    try:
        with open(path, errors='replace') as f:
            lines = f.readlines()
    except OSError:
        return []
    latest: Dict[tuple, Submission] = {}
    for line in lines:
        submission = _parse(line)
        if submission is not None:
            key = (submission.experiment, submission.task, tuple(submission.runs))
            latest.pop(key, None)
            latest[key] = submission
    return list(latest.values())


def squeue_states() -> Optional[Dict[str, str]]:
    """{job id: state} from one `squeue` call, or None when squeue is not on PATH or fails."""
    squeue = shutil.which('squeue')
    if squeue is None:
        return None
    try:
        done = subprocess.run([squeue, '-h', '-r', '-o', '%i %T'], capture_output=True, text=True,
                              timeout=SQUEUE_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def finished_on_disk(submission: Submission, tree: Dict[str, Dict[str, int]]) -> bool:
    """Whether every run folder of the submission has a non-empty `logger` (`tree`: the experiment's snapshot)."""
    return all(tree.get(run, {}).get('logger', 0) > 0 for run in submission.runs)


def active(root: str) -> Dict[str, List[Submission]]:
    """{experiment name: its submissions that may still be queued or running}, before the finished-on-disk check
    (listing.summarize does it with the experiment's snapshot). One squeue call at most, only if there are
    submissions; a job squeue does not list has ended and is dropped."""
    submissions = read(root)
    if not submissions:
        return {}
    states = squeue_states() if any(s.executor != 'local' for s in submissions) else None
    by_experiment: Dict[str, List[Submission]] = {}
    for submission in submissions:
        if states is not None and submission.executor != 'local':
            if submission.job_id not in states:
                continue
            submission.state = states[submission.job_id]
        by_experiment.setdefault(submission.experiment, []).append(submission)
    return by_experiment
