"""Find and read results: experiments under a root, their replicates, levels and branch folders, and the small
text files of each run (`logger`, `sparsity_report.json`, `hparams.json` / `hparams.log`). Plain Python, no
pandas, so `list` starts fast; `analysis.tables` turns these records into DataFrames.

Layout (the original OpenLTH's):
`<root>/lottery_<md5>/replicate_<r>/level_<L>/<main|lottery_branch_<name>_<md5>>` for lottery experiments and
`<root>/train_<md5>/replicate_<r>/main` for train runs. A run is *finished* when its `logger` exists (it is
written once, at the end step, after the final model), *partial* when its folder exists without one (still
training, or interrupted), and *damaged* when a file it needs cannot be read or parsed (for example a `logger`
truncated by another tool); damaged runs are reported and skipped, never fatal.
"""

import json
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from foundations import paths
from foundations.hparams import HparamsError

EXPERIMENT_NAME = re.compile(r'^(train|lottery)_[0-9a-f]{32}$')
BRANCH_FOLDER = re.compile(r'^lottery_branch_(.+)_([0-9a-f]{32})$')
MAIN = 'main'


class NotATrainingRun(ValueError):
    """A logger without test metrics: the folder holds another kind of result (e.g. the `instability` branch's
    summary logger), not a training run; reports leave it out without calling it damaged."""


class ResultsError(HparamsError):
    """Bad input to `list` or `report` (no such root or experiment, nothing finished to report); the command line
    prints it as one `open_lth.py: error: ...` line and exits with status 2."""


# Small files -----------------------------------------------------------------------------------------------------

def parse_logger(text: str) -> List[Tuple[str, int, float]]:
    """The entries of a `logger` file, [(name, iteration, value)], in file order.

    Strict, unlike MetricLogger: raises ValueError for an empty file, a line without exactly three fields, an
    iteration that is not an integer or a value that is not a number (what a write cut short leaves behind)."""
    if not text.strip():
        raise ValueError('empty logger')
    entries = []
    for number, line in enumerate(text.rstrip('\r\n').splitlines(), start=1):
        row = line.rsplit(',', 2)
        if len(row) != 3:
            raise ValueError(f'line {number} has {len(row)} fields, expected name,iteration,value')
        try:
            entries.append((row[0], int(row[1]), float(row[2])))
        except ValueError:
            raise ValueError(f'line {number} is not name,iteration,value: {line!r}') from None
    return entries


def read_logger(run_folder: str) -> List[Tuple[str, int, float]]:
    """`parse_logger` of `<run_folder>/logger`. Raises OSError, UnicodeDecodeError or ValueError."""
    with open(paths.logger(run_folder), encoding='utf-8') as f:
        return parse_logger(f.read())


def read_sparsity_report(run_folder: str) -> Tuple[float, float]:
    """(unpruned, total) prunable weights from `sparsity_report.json`. Raises OSError or ValueError."""
    with open(paths.sparsity_report(run_folder), encoding='utf-8') as f:
        report = json.load(f)
    unpruned, total = float(report['unpruned']), float(report['total'])
    if not (0 <= unpruned <= total and total > 0):
        raise ValueError(f'unpruned={unpruned} and total={total} are not counts of a mask')
    return unpruned, total


def run_metrics(entries: List[Tuple[str, int, float]], expected_end: Optional[int] = None) -> Dict[str, float]:
    """The numbers a lottery-ticket paper reports for one run, from its logger entries.

    final_iteration: the last iteration with a test accuracy; final_test_accuracy / final_test_loss: there
    (fractions / mean cross-entropy); best_test_accuracy: the maximum over all evaluations; early_stop_iteration:
    the iteration of minimum test loss, the earliest on ties (Frankle & Carbin 2019, Sec. 2), and min_test_loss.
    Raises ValueError when the logger has no test accuracy or loss, lacks either at its last iteration, or ends
    before `expected_end` (in iterations): signs of a truncated file.
    """
    accuracy = {it: v for name, it, v in entries if name == 'test_accuracy'}
    loss = {it: v for name, it, v in entries if name == 'test_loss'}
    if not accuracy and not loss:
        raise NotATrainingRun('no test_accuracy or test_loss entries')
    if not accuracy or not loss:
        raise ValueError('test_accuracy or test_loss entries missing')
    final = max(accuracy)
    if final not in loss or max(loss) != final:
        raise ValueError(f'test_accuracy and test_loss end at different iterations ({final}, {max(loss)})')
    if expected_end is not None and final != expected_end:
        raise ValueError(f'ends at iteration {final}, but the run trains to iteration {expected_end}')
    early_stop = min(loss, key=lambda it: (loss[it], it))
    return {'final_iteration': float(final), 'final_test_accuracy': accuracy[final], 'final_test_loss': loss[final],
            'best_test_accuracy': max(accuracy.values()), 'early_stop_iteration': float(early_stop),
            'min_test_loss': loss[early_stop]}


# Folders -----------------------------------------------------------------------------------------------------------

def snapshot(path: str) -> Tuple[Dict[str, Dict[str, int]], int]:
    """One walk of the folder tree under `path` (os.scandir, one stat per file, nothing read):
    ({relative folder ('' for `path` itself): {file name: size in bytes}}, total bytes of all files)."""
    folders: Dict[str, Dict[str, int]] = {}
    total = 0
    pending = ['']
    while pending:
        relative = pending.pop()
        files = folders.setdefault(relative, {})
        try:
            entries = list(os.scandir(os.path.join(path, relative) if relative else path))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(f'{relative}/{entry.name}' if relative else entry.name)
                else:
                    size = entry.stat(follow_symlinks=False).st_size
                    files[entry.name] = size
                    total += size
            except OSError:
                continue
    return folders, total


def _number(name: str, prefix: str) -> Optional[int]:
    suffix = name[len(prefix):]
    return int(suffix) if name.startswith(prefix) and suffix.isdigit() else None


def experiment_names(root: str) -> List[str]:
    """The experiment folders (`train_<md5>`, `lottery_<md5>`) directly under `root`, sorted.

    Raises ResultsError naming `--root` when `root` is not a readable folder."""
    if not os.path.isdir(root):
        raise ResultsError(f'argument --root: {root} is not a folder (set --root or $OPEN_LTH_ROOT to a results '
                           f'folder)')
    try:
        names = os.listdir(root)
    except OSError as e:
        raise ResultsError(f'argument --root: cannot read {root}: {e.strerror}') from None
    return sorted(n for n in names if EXPERIMENT_NAME.match(n) and os.path.isdir(os.path.join(root, n)))


def kind_of(experiment_name: str) -> str:
    """`lottery` or `train`."""
    return experiment_name.split('_')[0]


def find_experiment(root: str, experiment: str) -> str:
    """The path of an experiment given as a folder name under `root` or as a path. Raises ResultsError."""
    candidates = [experiment] if os.sep in experiment or experiment.startswith('.') else []
    candidates += [os.path.join(root, experiment), experiment]
    for candidate in candidates:
        path = os.path.abspath(candidate)
        if os.path.isdir(path) and EXPERIMENT_NAME.match(os.path.basename(path)):
            return path
    raise ResultsError(f'argument --experiment: no experiment {experiment!r} under {root} (expected a '
                       f'lottery_<md5> or train_<md5> folder; `open_lth.py list` shows them)')


# One run -----------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    """One run folder of an experiment: `folder` is `main` or a branch folder name; `level` is None for a train
    run. `status` is finished, partial, damaged (with `problem` saying why) or other (a logger without test
    metrics: not a training run, such as the instability branch's folder). For finished runs, `metrics` holds
    `run_metrics`, `unpruned`/`total` the sparsity report (lottery runs) and `entries` the logger (if kept)."""

    replicate: int
    level: Optional[int]
    folder: str
    path: str
    status: str = 'partial'
    problem: str = ''
    unpruned: Optional[float] = None
    total: Optional[float] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    entries: Optional[list] = None
    files: Dict[str, int] = field(default_factory=dict)  # file name -> size, from the snapshot
    instability: Dict[int, float] = field(default_factory=dict)  # spawn step k (it) -> instability (pp)
    interpolation: Dict[int, list] = field(default_factory=dict)  # k -> [(alpha, split, loss, accuracy)]

    @property
    def relative(self) -> str:
        parts = [f'replicate_{self.replicate}'] + ([f'level_{self.level}'] if self.level is not None else [])
        return '/'.join(parts + [self.folder])


def read_run(run: Run, expected_end: Optional[int] = None, keep_entries: bool = False) -> Run:
    """Fill in `run` from its files (see Run). Never raises for a damaged file: catches anything its small files
    throw and marks the run damaged with the file name and the reason."""
    if 'logger' not in run.files:
        run.status = 'partial'
        return run
    current = 'logger'
    try:
        entries = read_logger(run.path)
        run.metrics = run_metrics(entries, expected_end)
        if run.level is not None:
            current = 'sparsity_report.json'
            run.unpruned, run.total = read_sparsity_report(run.path)
        run.entries = entries if keep_entries else None
        run.status = 'finished'
    except NotATrainingRun:
        run.status, run.metrics, run.entries = 'other', {}, entries
    except Exception as e:  # noqa: BLE001 - any damage to a small file marks the run, never stops the report.
        run.status, run.problem = 'damaged', f'{current}: {_reason(e)}'
        run.metrics = {}
    return run


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, UnicodeDecodeError):
        return 'not UTF-8 text'
    if isinstance(error, json.JSONDecodeError):
        return f'not JSON ({error.msg})'
    return str(error) or type(error).__name__


def expected_end_iteration(desc) -> Optional[int]:
    """The iteration at which a run of `desc` (TrainingDesc, LotteryDesc or BranchDesc) ends; None if unknown."""
    from datasets import registry as datasets_registry
    from foundations.step import Step
    try:
        if hasattr(desc, 'end_step'):  # TrainingDesc
            return desc.end_step.iteration
        if hasattr(desc, 'train_end_step'):  # LotteryDesc
            return desc.train_end_step.iteration
        hparams = desc.branch_hparams  # BranchDesc: retrain trains with its own recipe.
        if hasattr(hparams, 'retrain_t') and hasattr(hparams, 'retrain_d'):
            ipe = datasets_registry.iterations_per_epoch(hparams.retrain_d)
            return Step.from_str(hparams.retrain_t.training_steps, ipe).iteration
        return desc.lottery_desc.train_end_step.iteration
    except Exception:  # noqa: BLE001 - an unknown dataset or malformed step: skip the check.
        return None


def branch_label(folder: str, desc=None) -> str:
    """How a run folder is named in tables and legends: `main`, or the branch name and its own hyperparameters
    (required or set ones, e.g. `randomly_prune (seed=1, strategy=layerwise, start_at=rewind)`), or, without a
    readable `hparams.json`, the branch name and the first 8 digits of the folder's hash."""
    if folder == MAIN:
        return MAIN
    match = BRANCH_FOLDER.match(folder)
    name, digest = match.group(1), match.group(2)
    if desc is None:
        return f'{name} ({digest[:8]})'
    hparams = desc.branch_hparams
    values = [f'{f.name}={_flat(getattr(hparams, f.name))}' for f in hparams.public_fields()
              if hparams.is_required(f) or getattr(hparams, f.name)]
    return f'{name} ({", ".join(values)})' if values else name


def _flat(value) -> str:
    """A branch argument for a label; a nested bundle (retrain's) as its non-default fields."""
    if hasattr(value, 'public_fields'):
        return str(value).replace('Hparams', '')
    return str(value)


# One experiment ----------------------------------------------------------------------------------------------------

@dataclass
class Experiment:
    """Every run of one experiment folder, with the Desc of main and of each branch folder where readable.

    `descs` maps `main` and each branch folder name to a hparams_files.DescRecord (or None when unreadable or
    absent); `problems` lists damaged hyperparameter files."""

    name: str
    path: str
    kind: str
    runs: List[Run]
    descs: Dict[str, object]
    problems: List[str]

    def labels(self) -> Dict[str, str]:
        """Run folder name -> label (see branch_label), main first."""
        return {folder: branch_label(folder, record.desc if record else None) for folder, record in self.descs.items()}

    @property
    def main_desc(self):
        record = self.descs.get(MAIN)
        return record.desc if record else None


def scan_runs(experiment_path: str, tree: Optional[Dict[str, Dict[str, int]]] = None) -> List[Run]:
    """Every run folder of an experiment (unread), sorted by replicate, level, then main before branches: main
    and branch folders of every numbered level of every replicate (`level_pretrain` is the rewind point's
    training, not a level), or `replicate_<r>/main` for a train run. `tree` is the experiment's `snapshot`."""
    if tree is None:
        tree, _ = snapshot(experiment_path)
    train = kind_of(os.path.basename(os.path.normpath(experiment_path))) == 'train'
    runs = []
    for relative, files in tree.items():
        parts = relative.split('/')
        replicate = _number(parts[0], 'replicate_')
        if replicate is None or len(parts) != (2 if train else 3):
            continue
        level = None if train else _number(parts[1], 'level_')
        folder = parts[-1]
        if (not train and level is None) or not (folder == MAIN or (not train and BRANCH_FOLDER.match(folder))):
            continue
        runs.append(Run(replicate, level, folder, os.path.join(experiment_path, relative), files=files))
    return sorted(runs, key=lambda r: (r.replicate, r.level or 0, r.folder != MAIN, r.folder))


def read_descs(experiment_name: str, runs: List[Run], problems: List[str]) -> Dict[str, object]:
    """{run folder name: DescRecord or None}: for each folder name, the first run folder whose hyperparameter
    file reads (main's `hparams.log` lives in level_0 only). Unreadable files are added to `problems`."""
    from analysis.hparams_files import read_desc
    descs = {}
    for run in sorted(runs, key=lambda r: (r.folder != MAIN, r.folder, r.level or 0, r.replicate)):
        if descs.get(run.folder) is not None:
            continue
        folder_name = experiment_name if run.folder == MAIN else run.folder
        try:
            descs[run.folder] = read_desc(run.path, folder_name)
        except Exception as e:  # noqa: BLE001 - report and carry on without this folder's hyperparameters.
            descs.setdefault(run.folder, None)
            problems.append(f'{run.relative}: hyperparameters unreadable ({_reason(e)})')
    return descs


def load(experiment_path: str, keep_entries: bool = False) -> Experiment:
    """Read every run of the experiment at `experiment_path` (see Run and read_run)."""
    name = os.path.basename(os.path.normpath(experiment_path))
    runs = scan_runs(experiment_path)
    problems: List[str] = []
    descs = read_descs(name, runs, problems)
    ends = {folder: expected_end_iteration(record.desc) if record else None for folder, record in descs.items()}
    for run in runs:
        read_run(run, ends.get(run.folder), keep_entries=keep_entries)
        if run.status == 'other' and is_instability_folder(run.folder):
            record = descs.get(run.folder)
            read_instability_run(run, record.desc if record else None, problems)
    return Experiment(name, experiment_path, kind_of(name), runs, descs, problems)


# The instability branch ----------------------------------------------------------------------------------------------

INTERPOLATION_HEADER = ['alpha', 'split', 'loss', 'accuracy']


def is_instability_folder(folder: str) -> bool:
    match = BRANCH_FOLDER.match(folder)
    return bool(match) and match.group(1) == 'instability'


def spawn_iterations(desc) -> Optional[List[int]]:
    """The spawn steps k (iterations) an instability BranchDesc asks for, sorted; None when unknown."""
    from datasets import registry as datasets_registry
    from foundations.step import Step
    try:
        ipe = datasets_registry.iterations_per_epoch(desc.lottery_desc.dataset_hparams)
        return sorted({Step.from_str(item, ipe).iteration for item in desc.branch_hparams.spawn_step.split(',')})
    except Exception:  # noqa: BLE001 - an unknown dataset or malformed step: skip the check.
        return None


def read_interpolation_csv(path: str) -> List[Tuple[float, str, float, float]]:
    """The rows (alpha, split, loss, accuracy) of an instability branch's `interpolation.csv`. Raises OSError,
    UnicodeDecodeError or ValueError (wrong header, a row that is not four numbers and a split, no test rows)."""
    import csv
    with open(path, encoding='utf-8', newline='') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != INTERPOLATION_HEADER:
            raise ValueError(f'header is {header}, expected alpha,split,loss,accuracy')
        rows = []
        for number, row in enumerate(reader, start=2):
            try:
                alpha, split, loss, accuracy = row
                rows.append((float(alpha), split, float(loss), float(accuracy)))
            except ValueError:
                raise ValueError(f'line {number} is not alpha,split,loss,accuracy: {",".join(row)!r}') from None
    if not any(split == 'test' for _, split, _, _ in rows):
        raise ValueError('no test rows')
    return rows


def read_instability_run(run: Run, desc, problems: List[str]) -> None:
    """Fill in `run.instability` from the branch folder's logger (`instability,<k>,<pp>`) and `run.interpolation`
    from each `spawn_<k>it/interpolation.csv`. Never raises: a logger lacking a spawn step that `desc` asks for
    marks the run damaged; an unreadable interpolation.csv is added to `problems` and its curve left out."""
    values = {it: v for name, it, v in run.entries or [] if name == 'instability'}
    expected = spawn_iterations(desc) if desc is not None else None
    missing = [k for k in expected or [] if k not in values]
    if not values or missing:
        run.status = 'damaged'
        run.problem = ('logger: no instability values' if not values else
                       f'logger: no instability for spawn step {", ".join(f"{k}it" for k in missing)}')
        return
    run.instability = values
    for k in sorted(values):
        relative = f'spawn_{k}it/interpolation.csv'
        try:
            run.interpolation[k] = read_interpolation_csv(os.path.join(run.path, relative))
        except Exception as e:  # noqa: BLE001 - the curve is left out, the instability value stays.
            problems.append(f'{run.relative}/{relative}: {_reason(e)}')
