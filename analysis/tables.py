"""Results as pandas DataFrames (imported only by `report` and notebooks, never by training).

`runs_frame` is tidy: one row per replicate x level x run folder (main or branch) x metric, the rows of
`report/runs.csv`. `summary_frame` aggregates it over replicates (mean, sample standard deviation, n), which
`format_table` prints as the report's table.
"""

from typing import Dict, List

import pandas as pd

from analysis import results
from analysis.results import MAIN, Experiment

RUN_COLUMNS = ['experiment', 'branch', 'folder', 'replicate', 'level', 'metric', 'value']
# Metrics of runs.csv. Accuracies are fractions and losses mean cross-entropy, as in the logger; iterations are
# training iterations; percent_remaining = 100 x unpruned / total prunable weights (sparsity_report.json).
METRICS = ['percent_remaining', 'weights_remaining', 'weights_total', 'final_test_accuracy', 'best_test_accuracy',
           'early_stop_iteration', 'final_test_loss', 'min_test_loss', 'final_iteration']
# The instability branch's rows: metric `instability` (percentage points: the highest test error along the path
# between the two children minus the mean of their errors), one per spawn step k, in an extra last column
# `spawn_step` (iterations; empty on every other row). The column exists only when such rows do, so the runs.csv of
# an experiment without instability results keeps exactly its columns.
INSTABILITY = 'instability'
SPAWN_STEP = 'spawn_step'


def logger_frame(entries) -> pd.DataFrame:
    """[(name, iteration, value)] -> DataFrame with columns name, iteration (int), value (float)."""
    frame = pd.DataFrame(entries, columns=['name', 'iteration', 'value'])
    return frame.astype({'name': str, 'iteration': 'int64', 'value': 'float64'})


def runs_frame(experiment: Experiment) -> pd.DataFrame:
    """The tidy rows of every finished run (see RUN_COLUMNS, METRICS); damaged and partial runs are left out.
    `level` is empty (NA) for train runs."""
    labels = experiment.labels()
    rows = []
    for run in experiment.runs:
        if run.status != 'finished':
            continue
        values = dict(run.metrics)
        if run.total:
            values.update(percent_remaining=100 * run.unpruned / run.total, weights_remaining=run.unpruned,
                          weights_total=run.total)
        for metric in METRICS:
            if metric in values:
                rows.append((experiment.name, labels.get(run.folder, run.folder), run.folder, run.replicate,
                             run.level, metric, float(values[metric])))
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame = frame.astype({'replicate': 'int64', 'level': 'Int64', 'value': 'float64'})
    instability = instability_frame(experiment)
    if instability.empty:
        return frame
    frame[SPAWN_STEP] = pd.array([pd.NA] * len(frame), dtype='Int64')
    return pd.concat([frame, instability], ignore_index=True)


def instability_frame(experiment: Experiment) -> pd.DataFrame:
    """The instability branch's tidy rows (RUN_COLUMNS + spawn_step): one per replicate x level x branch folder x
    spawn step k, from each branch folder's logger."""
    labels = experiment.labels()
    rows = [(experiment.name, labels.get(run.folder, run.folder), run.folder, run.replicate, run.level, INSTABILITY,
             float(value), k)
            for run in experiment.runs for k, value in sorted(run.instability.items())]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS + [SPAWN_STEP])
    return frame.astype({'replicate': 'int64', 'level': 'Int64', 'value': 'float64', SPAWN_STEP: 'Int64'})


def interpolation_frame(experiment: Experiment) -> pd.DataFrame:
    """Every interpolation curve of the instability branch: columns folder, replicate, level, spawn_step (it),
    alpha, split (test or train), loss, accuracy (fraction)."""
    rows = [(run.folder, run.replicate, run.level, k) + tuple(row)
            for run in experiment.runs for k, curve in sorted(run.interpolation.items()) for row in curve]
    return pd.DataFrame(rows, columns=['folder', 'replicate', 'level', SPAWN_STEP, 'alpha', 'split', 'loss',
                                       'accuracy'])


def summary_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; NaN for one replicate) and n over replicates, per branch, level
    and metric (and spawn step, when runs has that column): columns folder, branch, level, metric, [spawn_step,]
    mean, std, n."""
    keys = ['folder', 'branch', 'level', 'metric'] + ([SPAWN_STEP] if SPAWN_STEP in runs.columns else [])
    grouped = runs.groupby(keys, dropna=False, sort=False)['value']
    summary = grouped.agg(mean='mean', std='std', n='count').reset_index()
    return summary


def layer_densities(experiment: Experiment, folders=None) -> pd.DataFrame:
    """Per prunable tensor density of every finished lottery run's `mask.pth` (of the run folders `folders`, or
    all): columns branch, folder, replicate, level, layer, unpruned, total, density (fraction). A mask that cannot be
    read is skipped and added to `experiment.problems`."""
    import torch
    from foundations import paths
    labels = experiment.labels()
    rows = []
    for run in experiment.runs:
        if run.status != 'finished' or run.level is None or (folders is not None and run.folder not in folders):
            continue
        try:
            mask = torch.load(paths.mask(run.path), map_location='cpu', weights_only=True)
            counts = [(name, int(torch.count_nonzero(t)), int(t.numel())) for name, t in sorted(mask.items())]
        except Exception as e:  # noqa: BLE001 - a damaged mask loses its row, never the report.
            experiment.problems.append(f'{run.relative}: mask.pth: {results._reason(e)}')
            continue
        for name, unpruned, total in counts:
            rows.append((labels.get(run.folder, run.folder), run.folder, run.replicate, run.level, name, unpruned,
                         total, unpruned / total if total else float('nan')))
    return pd.DataFrame(rows, columns=['branch', 'folder', 'replicate', 'level', 'layer', 'unpruned', 'total',
                                       'density'])


# The table ----------------------------------------------------------------------------------------------------------

def _stat(row, scale: float = 1.0, digits: int = 2) -> str:
    """`mean ± std` (std omitted for one replicate) with `digits` decimals after multiplying by `scale`."""
    if row is None:
        return '-'
    mean = row['mean'] * scale
    if pd.isna(row['std']):
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {row["std"] * scale:.{digits}f}'


GROUP_COLUMNS = [('final acc %', 'final_test_accuracy', 100.0, 2), ('best acc %', 'best_test_accuracy', 100.0, 2),
                 ('early stop it', 'early_stop_iteration', 1.0, 0)]


def format_table(experiment: Experiment, summary: pd.DataFrame, partial: Dict[tuple, int]) -> str:
    """The report's table: per level, % weights remaining, then per run folder (main, then each branch) final
    and best test accuracy (percent, two decimals), the early-stopping iteration (of minimum test loss), each as
    mean ± std over n replicates. `partial` maps (folder, level) to the count of unfinished replicates, shown as
    `+k partial` beside n. Instability rows are left to `format_instability`."""
    summary = summary[summary.metric != INSTABILITY]
    partial = {key: count for key, count in partial.items() if not results.is_instability_folder(key[0])}
    labels = experiment.labels()
    folders = [f for f in labels if f in set(summary['folder'])] or [MAIN]
    lookup = {(r.folder, None if pd.isna(r.level) else int(r.level), r.metric): r
              for r in summary.itertuples(index=False)}
    levels = sorted({None if pd.isna(level) else int(level) for level in summary['level']} |
                    {level for (_, level) in partial}, key=lambda x: -1 if x is None else x)

    def get(folder, level, metric):
        row = lookup.get((folder, level, metric))
        return None if row is None else {'mean': row.mean, 'std': row.std, 'n': row.n}

    header = ['level', 'remaining %']
    cells = []
    for level in levels:
        remaining = next((get(f, level, 'percent_remaining') for f in folders if get(f, level, 'percent_remaining')),
                         None)
        if remaining and not (remaining['std'] > 0):  # Every replicate's mask keeps the same count.
            remaining = dict(remaining, std=float('nan'))
        line = ['dense' if level is None else str(level),
                '100.00' if level is None else _stat(remaining) if remaining else '-']
        for folder in folders:
            n_row = get(folder, level, 'final_test_accuracy')
            for _, metric, scale, digits in GROUP_COLUMNS:
                line.append(_stat(get(folder, level, metric), scale, digits))
            n = str(int(n_row['n'])) if n_row else '0'
            if partial.get((folder, level)):
                n += f' +{partial[(folder, level)]} partial'
            line.append(n)
        cells.append(line)
    sub = [name for name, *_ in GROUP_COLUMNS] + ['n']
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(2)]
    for g in range(len(folders)):
        for j, name in enumerate(sub):
            i = 2 + g * len(sub) + j
            widths.append(max(len(name), *(len(c[i]) for c in cells)))

    def join(values):
        out = []
        for g in range(-1, len(folders)):
            chunk = values[:2] if g < 0 else values[2 + g * len(sub): 2 + (g + 1) * len(sub)]
            w = widths[:2] if g < 0 else widths[2 + g * len(sub): 2 + (g + 1) * len(sub)]
            out.append('  '.join(v.rjust(x) for v, x in zip(chunk, w)))
        return ' | '.join(out)

    group_widths = [len(join(['']*(2 + len(folders) * len(sub))).split(' | ')[g + 1]) for g in range(len(folders))]
    top = ' | '.join([' ' * (sum(widths[:2]) + 2)] + [labels[f][:w].ljust(w) for f, w in zip(folders, group_widths)])
    lines = [top.rstrip(), join(header + sub * len(folders)), '-' * len(join(header + sub * len(folders)))]
    lines += [join(c) for c in cells]
    return '\n'.join(lines)


def format_instability(experiment: Experiment, summary: pd.DataFrame, partial: Dict[tuple, int]) -> str:
    """The instability table, one block per instability branch folder: per level (with main's % of weights
    remaining) and spawn step k, the instability in percentage points as mean ± std over n replicates; `+k partial`
    counts that level's branch folders still running. Empty when the experiment has no instability results."""
    if SPAWN_STEP not in summary.columns:
        return ''
    labels = experiment.labels()
    rows = summary[summary.metric == INSTABILITY]
    remaining = summary[(summary.folder == MAIN) & (summary.metric == 'percent_remaining')]
    remaining = {int(r.level): r.mean for r in remaining.itertuples(index=False) if not pd.isna(r.level)}
    blocks = []
    for folder in [f for f in labels if f in set(rows.folder)]:
        part = rows[rows.folder == folder].sort_values(['level', SPAWN_STEP])
        header = ['level', 'remaining %', 'spawn step k', 'instability pp', 'n']
        cells = []
        for r in part.itertuples(index=False):
            n = str(int(r.n)) + (f' +{partial[(folder, r.level)]} partial' if partial.get((folder, r.level)) else '')
            cells.append([str(int(r.level)), f'{remaining[int(r.level)]:.2f}' if int(r.level) in remaining else '-',
                          f'{int(getattr(r, SPAWN_STEP))}it', _stat({'mean': r.mean, 'std': r.std}), n])
        widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(len(header))]
        lines = [labels[folder], '  '.join(h.rjust(w) for h, w in zip(header, widths)),
                 '-' * (sum(widths) + 2 * (len(widths) - 1))]
        lines += ['  '.join(v.rjust(w) for v, w in zip(c, widths)) for c in cells]
        blocks.append('\n'.join(lines))
    return '\n\n'.join(blocks)


def format_layers(layers: pd.DataFrame) -> str:
    """Per level, the density (percent of weights kept, mean over replicates) of each prunable tensor of main's
    masks, one column per tensor; then the same for each branch whose masks' densities differ from main's (for the
    same replicate and level: randomly_prune with the global strategy, for example)."""
    if layers.empty:
        return 'No masks to show.'
    blocks = []
    key = ['replicate', 'level', 'layer']
    main = layers[layers.folder == MAIN].set_index(key)['density']
    for (folder, branch), part in layers.groupby(['folder', 'branch'], sort=False):
        if folder != MAIN:
            same = part.set_index(key)['density']
            common = same.index.intersection(main.index)
            if len(common) == len(same) and ((same[common] - main[common]).abs() < 1e-12).all():
                continue
        pivot = part.groupby(['level', 'layer'])['density'].mean().unstack('layer').sort_index() * 100
        text = pivot.to_string(float_format=lambda v: f'{v:.2f}')
        blocks.append(f'Density per prunable tensor (% of weights kept, mean over replicates), {branch}:\n{text}')
    return '\n\n'.join(blocks)


def partial_counts(experiment: Experiment) -> Dict[tuple, int]:
    """(folder, level) -> number of runs there that are partial (still training or interrupted)."""
    counts: Dict[tuple, int] = {}
    for run in experiment.runs:
        if run.status == 'partial':
            counts[(run.folder, run.level)] = counts.get((run.folder, run.level), 0) + 1
    return counts


def problems(experiment: Experiment) -> List[str]:
    """One line per damaged file or run, for the report's `skipped:` list."""
    return list(experiment.problems) + [f'{run.relative}: {run.problem}' for run in experiment.runs
                                        if run.status == 'damaged']
