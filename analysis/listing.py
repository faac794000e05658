"""`open_lth.py list`: one line (or one JSON object) per experiment under a results root.

Reads only small text files: the hyperparameters of main and of each branch folder, the `logger` of the deepest
finished level (for its test accuracy) and that level's `sparsity_report.json`; other runs are only looked at
(does a `logger` exist, is it empty). Checkpoints and weights are never opened. Runs submitted to SLURM and not
finished on disk are added to the status (analysis/submissions.py: one `squeue` call at most).
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

from analysis import results, submissions as slurm_submissions
from analysis.results import MAIN

STATUS_FINISHED = 'finished'
STATUS_RUNNING = 'in progress or interrupted'
STATUS_EMPTY = 'empty'


def _render(value) -> str:
    return str(value)


def bundle_diff(bundle, reference, prefix: str = '') -> List[str]:
    """`name=value` for each field of Hparams `bundle` that differs from `reference` (same class) or, with no
    reference, from the field's own default."""
    items = []
    for f in bundle.public_fields():
        value = getattr(bundle, f.name)
        base = getattr(reference, f.name) if reference is not None else (None if bundle.is_required(f) else f.default)
        if value != base:
            items.append(f'{prefix}{f.name}={_render(value)}')
    return items


def preset_diff(desc, presets: Dict[str, object]) -> Optional[List[str]]:
    """The hyperparameters of a TrainingDesc or LotteryDesc that differ from its model's `--default_hparams`
    preset, as flags would set them (`lr=0.05`, `rewinding_steps=500it`, `pretrain_lr=0.2`); None when the model
    has no preset. `presets` caches presets by model name."""
    from models import families
    model_name = desc.model_hparams.model_name
    if model_name not in presets:
        try:
            presets[model_name] = families.get_default_hparams(model_name)
        except Exception:  # noqa: BLE001 - unknown family: no preset to compare with.
            presets[model_name] = None
    preset = presets[model_name]
    if preset is None:
        return None
    diff = (bundle_diff(desc.dataset_hparams, preset.dataset_hparams)
            + bundle_diff(desc.model_hparams, preset.model_hparams)
            + bundle_diff(desc.training_hparams, preset.training_hparams))
    if not hasattr(desc, 'pruning_hparams'):
        return diff
    pruning, preset_pruning = desc.pruning_hparams, preset.pruning_hparams
    if type(pruning) is type(preset_pruning):
        diff += bundle_diff(pruning, preset_pruning)
    else:
        diff += [f'pruning_strategy={pruning.pruning_strategy}'] + [
            item for item in bundle_diff(pruning, None) if not item.startswith('pruning_strategy=')]
    if desc.pretraining:
        steps = desc.pretrain_training_hparams.training_steps
        rewinding = dataclasses.replace(desc.training_hparams, training_steps=steps)
        if desc.pretrain_dataset_hparams == desc.dataset_hparams and desc.pretrain_training_hparams == rewinding:
            diff.append(f'rewinding_steps={desc.pretrain_training_hparams.training_steps}')
        else:
            pretrain_defaults = dataclasses.replace(preset.training_hparams, training_steps='0ep')
            diff += ['pretrain'] + bundle_diff(desc.pretrain_dataset_hparams, preset.dataset_hparams, 'pretrain_') + \
                bundle_diff(desc.pretrain_training_hparams, pretrain_defaults, 'pretrain_')
    return diff


def describe(desc, presets) -> str:
    """`mnist_lenet_300_100 on mnist, preset` or `..., lr=0.05, rewinding_steps=500it` (or `no preset`)."""
    if desc is None:
        return 'no readable hparams.json or hparams.log'
    head = f'{desc.model_hparams.model_name} on {desc.dataset_hparams.dataset_name}'
    diff = preset_diff(desc, presets)
    if diff is None:
        return f'{head}, no preset'
    return f'{head}, ' + (', '.join(diff) if diff else 'preset')


def human_size(size: int) -> str:
    for unit in ('B', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{size:.0f} {unit}' if unit == 'B' else f'{size:.1f} {unit}'
        size /= 1024
    return f'{size:.1f} TB'


def summarize(root: str, name: str, presets: Dict[str, object], submitted=()) -> dict:
    """One experiment's line of `list` as a dict (the `--json` object). Never raises for damaged files: they are
    listed under `damaged` and the runs they belong to are not counted as finished. `submitted`: the experiment's
    SLURM submissions (analysis/submissions.py); those not finished on disk are listed under `slurm` (format_line
    adds them to the status)."""
    path = os.path.join(root, name)
    tree, size = results.snapshot(path)
    runs = results.scan_runs(path, tree)
    problems: List[str] = []
    descs = results.read_descs(name, runs, problems)
    main_record = descs.get(MAIN)
    finished, pending = [], []
    for run in runs:
        if 'logger' not in run.files:
            pending.append(run)
        elif run.files['logger'] == 0:
            problems.append(f'{run.relative}: logger: empty logger')
        else:
            finished.append(run)

    entry = {'experiment': name, 'kind': results.kind_of(name),
             'model': main_record.desc.model_hparams.model_name if main_record else None,
             'dataset': main_record.desc.dataset_hparams.dataset_name if main_record else None,
             'hparams': describe(main_record.desc if main_record else None, presets),
             'replicates': sorted({run.replicate for run in runs}),
             'deepest_level': None, 'percent_remaining': None,
             'branches': sorted({label for folder, label in _labels(descs).items() if folder != MAIN}),
             'test_accuracy': None, 'status': None, 'damaged': problems, 'size_bytes': size, 'slurm': []}

    main_finished = [run for run in finished if run.folder == MAIN]
    deepest = max((run.level or 0 for run in main_finished), default=None)
    accuracies = []
    for run in main_finished:
        if (run.level or 0) != deepest:
            continue
        end = results.expected_end_iteration(main_record.desc) if main_record else None
        results.read_run(run, end)
        if run.status != 'finished':
            if run.status == 'damaged':
                problems.append(f'{run.relative}: {run.problem}')
            continue
        accuracies.append(run.metrics['final_test_accuracy'])
        if run.total and entry['percent_remaining'] is None:
            entry['percent_remaining'] = 100 * run.unpruned / run.total
    if entry['kind'] == 'lottery':
        entry['deepest_level'] = deepest
    if accuracies:
        entry['test_accuracy'] = 100 * sum(accuracies) / len(accuracies)
    entry['status'] = STATUS_EMPTY if not runs else (STATUS_RUNNING if pending else STATUS_FINISHED)
    entry['slurm'] = [s.as_json() for s in submitted if not slurm_submissions.finished_on_disk(s, tree)]
    return entry


def _labels(descs) -> Dict[str, str]:
    return {folder: results.branch_label(folder, record.desc if record else None) for folder, record in descs.items()}


def list_experiments(root: str) -> List[dict]:
    """`summarize` for every experiment under `root`, and every experiment queued on SLURM (squeue knows its job)
    whose folder does not exist yet, in folder-name order. Raises ResultsError for a bad root."""
    presets: Dict[str, object] = {}
    names = results.experiment_names(root)
    submitted = slurm_submissions.active(root)
    names = sorted(set(names) | {name for name, queued in submitted.items() if any(s.state for s in queued)})
    return [summarize(root, name, presets, submitted.get(name, ())) for name in names]


def format_line(entry: dict) -> str:
    """One text line of `list`: folder, kind, model/dataset and preset diff, replicates, deepest level, branches,
    test accuracy, status, size."""
    replicates = entry['replicates']
    parts = [entry['experiment'], entry['kind'], entry['hparams'],
             f'{len(replicates)} replicate{"s" if len(replicates) != 1 else ""}']
    if entry['kind'] == 'lottery':
        if entry['deepest_level'] is None:
            parts.append('no finished level')
        else:
            remaining = entry['percent_remaining']
            level = f'level {entry["deepest_level"]}'
            parts.append(f'{level} ({remaining:.2f}% remaining)' if remaining is not None else level)
        parts.append('branches: ' + ('; '.join(entry['branches']) if entry['branches'] else 'none'))
    parts.append(f'test accuracy {entry["test_accuracy"]:.2f}%' if entry['test_accuracy'] is not None
                 else 'test accuracy -')
    status = entry['status']
    if entry['damaged']:
        status += f', {len(entry["damaged"])} damaged (skipped)'
    if entry.get('slurm'):
        status += ''.join('; ' + submission['text'] for submission in entry['slurm'])
    parts += [status, human_size(entry['size_bytes'])]
    return ' | '.join(parts)


def format_json(entry: dict) -> str:
    return json.dumps(entry, sort_keys=False)
