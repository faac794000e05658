"""`open_lth.py report`: gather every replicate, level and branch of one experiment into a table on stdout and
files in `<experiment>/report/`: runs.csv, layers.csv, summary.md, accuracy_vs_sparsity.png/.svg and
learning_curves.png; with `lottery_branch instability` results also instability.png/.svg and interpolation.png.
Nothing is written when nothing is finished."""

import os
from dataclasses import dataclass
from typing import Dict

from analysis import results
from analysis.results import MAIN, ResultsError
from foundations.io import atomic_write_bytes, atomic_write_text

REPORT_FOLDER = 'report'


@dataclass
class Report:
    """What `build` gathered: the experiment, its tidy runs, the summary over replicates, per-layer densities,
    the table text and the list of skipped (damaged) files."""

    experiment: results.Experiment
    runs: object
    summary: object
    layers: object
    table: str
    layers_table: str
    skipped: list
    title: str
    instability_table: str = ''
    interpolation: object = None


def title_of(experiment: results.Experiment) -> str:
    from analysis.listing import describe
    desc = experiment.main_desc
    replicates = sorted({run.replicate for run in experiment.runs if run.status == 'finished'})
    return (f'{describe(desc, {})}\n{experiment.name}, '
            f'{len(replicates)} replicate{"s" if len(replicates) != 1 else ""}')


def build(experiment_path: str, all_layers: bool = False) -> Report:
    """Read the experiment and compute everything `report` prints and writes: per-layer densities of main's masks,
    and with `all_layers` of the branches' masks too. Raises ResultsError when no run of it is finished."""
    from analysis import tables
    experiment = results.load(experiment_path, keep_entries=True)
    runs = tables.runs_frame(experiment)
    if runs.empty:
        partial = sum(run.status == 'partial' for run in experiment.runs)
        damaged = len(tables.problems(experiment))
        raise ResultsError(f'argument --experiment: {experiment.name} has no finished run yet ({partial} still '
                           f'training or interrupted, {damaged} damaged); nothing to report')
    summary = tables.summary_frame(runs)
    layers = None
    if experiment.kind == 'lottery':
        layers = tables.layer_densities(experiment, folders=None if all_layers else {MAIN})
    table = tables.format_table(experiment, summary, tables.partial_counts(experiment))
    layers_table = tables.format_layers(layers) if layers is not None else ''
    instability_table = tables.format_instability(experiment, summary, tables.partial_counts(experiment))
    return Report(experiment, runs, summary, layers, table, layers_table, tables.problems(experiment),
                  title_of(experiment), instability_table, tables.interpolation_frame(experiment))


def instability_legend() -> str:
    return ('Instability (lottery_branch instability; Frankle, Dziugaite, Roy & Carbin 2020): the highest test error '
            'along the linear path between two copies trained from spawn step k with different SGD noise, minus the '
            'mean of their test errors, in percentage points (about 0: stable); mean ± sample standard deviation '
            'over n replicates.')


def legend_text() -> str:
    return ('Test accuracy in percent at the end of training and at its best; early stop = iteration of minimum '
            'test loss (Frankle & Carbin 2019); each mean ± sample standard deviation over n replicates.')


def summary_markdown(report: Report) -> str:
    parts = [f'# Report: {report.experiment.name}', '', report.title, '', legend_text(), '', '```text',
             report.table, '```', '']
    if report.layers_table:
        parts += ['## Per-layer density', '', '```text', report.layers_table, '```', '']
    if report.instability_table:
        parts += ['## Instability', '', instability_legend(), '', '```text', report.instability_table, '```', '']
    if report.skipped:
        parts += ['## Skipped (damaged)', ''] + [f'- {line}' for line in report.skipped] + ['']
    parts += ['Files: runs.csv (one row per replicate x level x run folder x metric), layers.csv, '
              'accuracy_vs_sparsity.png/.svg, learning_curves.png'
              + (', instability.png/.svg, interpolation.png' if report.instability_table else '') + '.', '']
    return '\n'.join(parts)


def curves_frame(report: Report):
    """Test accuracy against iteration of every finished main run: columns level, replicate, iteration, value."""
    import pandas as pd
    rows = [(run.level if run.level is not None else 0, run.replicate, it, value)
            for run in report.experiment.runs if run.folder == MAIN and run.status == 'finished'
            for name, it, value in run.entries if name == 'test_accuracy']
    return pd.DataFrame(rows, columns=['level', 'replicate', 'iteration', 'value'])


def write(report: Report) -> Dict[str, str]:
    """Write the report's files into `<experiment>/report/` (each atomically); returns {name: path}."""
    from analysis import figures
    folder = os.path.join(report.experiment.path, REPORT_FOLDER)
    written = {}

    def put(name, data):
        path = os.path.join(folder, name)
        (atomic_write_text if isinstance(data, str) else atomic_write_bytes)(path, data)
        written[name] = path

    put('runs.csv', report.runs.to_csv(index=False))
    if report.layers is not None:
        put('layers.csv', report.layers.to_csv(index=False))
    put('summary.md', summary_markdown(report))
    labels = report.experiment.labels()
    remaining = (report.summary[report.summary.metric == 'percent_remaining'].groupby('level')['mean'].first()
                 .to_dict())
    if report.experiment.kind == 'lottery':
        images = figures.accuracy_vs_sparsity(report.summary, labels, report.title)
        put('accuracy_vs_sparsity.png', images['png'])
        put('accuracy_vs_sparsity.svg', images['svg'])
    curves = curves_frame(report)
    if not curves.empty:
        put('learning_curves.png', figures.learning_curves(curves, {int(k): v for k, v in remaining.items()},
                                                           report.title))
    if report.instability_table:
        remaining_by_level = {int(k): v for k, v in remaining.items() if k is not None and not _missing(k)}
        images = figures.instability_vs_spawn_step(report.summary, labels, remaining_by_level, report.title)
        put('instability.png', images['png'])
        put('instability.svg', images['svg'])
        if report.interpolation is not None and not report.interpolation.empty:
            put('interpolation.png', figures.interpolation_curves(report.interpolation, remaining_by_level,
                                                                  report.title))
    return written


def _missing(value) -> bool:
    import pandas as pd
    return bool(pd.isna(value))


def render_stdout(report: Report, written: Dict[str, str], show_layers: bool) -> str:
    lines = [report.title, legend_text(), '', report.table]
    if show_layers and report.layers_table:
        lines += ['', report.layers_table]
    if report.instability_table:
        lines += ['', instability_legend(), '', report.instability_table]
    if report.skipped:
        lines += ['', f'Skipped {len(report.skipped)} damaged file(s) or run(s):'] + \
                 [f'  {line}' for line in report.skipped]
    folder = os.path.dirname(next(iter(written.values())))
    lines += ['', f'Wrote {", ".join(written)} to {folder}']
    return '\n'.join(lines)
