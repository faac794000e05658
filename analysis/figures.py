"""The report's figures (matplotlib, Agg backend: no display needed), returned as bytes for atomic writes."""

import io
import textwrap
from typing import Dict, List

import pandas as pd

from analysis.results import MAIN

FIGSIZE = (8, 5)  # inches; at DPI 100, an 800 x 500 pixel PNG.
DPI = 100


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _wrap(title: str, width: int = 110) -> str:
    return '\n'.join(textwrap.fill(line, width) for line in title.splitlines())


def _save(fig, fmt: str) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=DPI)
    return buffer.getvalue()


def _finish(fig, ax, formats=('png',), legend_loc: str = 'best') -> Dict[str, bytes]:
    """Grid, legend and layout of a finished figure; returns {format: file bytes} and closes it."""
    ax.grid(True, which='major', alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)
    fig.tight_layout()
    out = {fmt: _save(fig, fmt) for fmt in formats}
    _pyplot().close(fig)
    return out


def _error_bars_note(counts: pd.Series) -> str:
    """What the error bars are, given the replicate count n of each plotted point."""
    return ('error bars: one sample standard deviation' if (counts > 1).any() else 'one replicate: no error bars')


def accuracy_vs_sparsity(summary: pd.DataFrame, labels: Dict[str, str], title: str) -> Dict[str, bytes]:
    """Final test accuracy (percent, mean over replicates, error bars = sample standard deviation) against the
    percent of weights remaining (log axis, decreasing to the right as in Frankle & Carbin 2019, Fig. 3), one line
    per run folder (main = the IMP tickets, and each branch), with main's dense (level 0) accuracy as a dashed
    reference line. Returns {'png': bytes, 'svg': bytes}."""
    from matplotlib.ticker import FixedLocator, NullLocator
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    remaining = summary[(summary.metric == 'percent_remaining')].groupby('level')['mean'].first()
    accuracy = summary[summary.metric == 'final_test_accuracy']
    markers = ['o', 's', '^', 'D', 'v', 'P', 'X']
    for i, folder in enumerate([f for f in labels if f in set(accuracy.folder)]):
        part = accuracy[accuracy.folder == folder].copy()
        part['remaining'] = part['level'].map(remaining)
        part = part.dropna(subset=['remaining']).sort_values('remaining', ascending=False)
        name = 'lottery ticket (IMP, main)' if folder == MAIN else labels[folder]
        low, high = (int(part['n'].min()), int(part['n'].max())) if len(part) else (0, 0)
        n = f'n={high}' if low == high else f'n={low}-{high}'
        ax.errorbar(part['remaining'], part['mean'] * 100, yerr=part['std'].fillna(0) * 100, marker=markers[i % 7],
                    markersize=5, capsize=3, linewidth=1.5, label=f'{name} ({n})')
    dense = accuracy[(accuracy.folder == MAIN) & (accuracy.level == 0)]
    if len(dense):
        ax.axhline(float(dense['mean'].iloc[0]) * 100, color='gray', linestyle='--', linewidth=1,
                   label=f'dense network ({float(dense["mean"].iloc[0]) * 100:.2f}%)')
    ax.set_xscale('log')
    ax.invert_xaxis()
    ticks = sorted(remaining.dropna().unique(), reverse=True)
    if len(ticks) > 10:
        ticks = ticks[::int(len(ticks) / 10) + 1]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f'{t:.3g}' for t in ticks])
    ax.set_xlabel('Percent of weights remaining (log scale)')
    ax.set_ylabel('Test accuracy at the end of training (%)')
    bars = _error_bars_note(accuracy['n'])
    ax.set_title(_wrap(title) + f'\nmean over replicates; {bars}', fontsize=9)
    return _finish(fig, ax, formats=('png', 'svg'))


def learning_curves(curves: pd.DataFrame, remaining: Dict[int, float], title: str,
                    max_levels: int = 5) -> bytes:
    """Test accuracy (percent, mean over replicates, shaded ± std) against training iteration for up to
    `max_levels` levels of main, spread from the first to the deepest. `curves` has columns level, replicate,
    iteration, value (test accuracy as a fraction). Returns PNG bytes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    levels: List[int] = sorted(curves['level'].unique())
    if len(levels) > max_levels:
        picks = {levels[round(i * (len(levels) - 1) / (max_levels - 1))] for i in range(max_levels)}
        levels = sorted(picks)
    for level in levels:
        part = curves[curves.level == level].groupby('iteration')['value'].agg(['mean', 'std']).reset_index()
        label = f'level {level}' + (f' ({remaining[level]:.3g}% remaining)' if level in remaining else '')
        line, = ax.plot(part['iteration'], part['mean'] * 100, marker='.', label=label)
        std = part['std'].fillna(0) * 100
        ax.fill_between(part['iteration'], part['mean'] * 100 - std, part['mean'] * 100 + std,
                        color=line.get_color(), alpha=0.15)
    ax.set_xlabel('Training iteration')
    ax.set_ylabel('Test accuracy (%)')
    several = curves.groupby(['level', 'iteration'])['replicate'].nunique().gt(1).any()
    shading = 'shaded: one sample standard deviation' if several else 'one replicate: no shading'
    ax.set_title(_wrap(title) + f'\nmain (IMP) runs; mean over replicates, {shading}', fontsize=9)
    return _finish(fig, ax, legend_loc='lower right')['png']


def _spread(values: List, count: int) -> List:
    """Up to `count` of the sorted `values`, evenly spread from the first to the last."""
    values = sorted(values)
    if len(values) <= count:
        return values
    return sorted({values[round(i * (len(values) - 1) / (count - 1))] for i in range(count)})


def instability_vs_spawn_step(summary: pd.DataFrame, labels: Dict[str, str], remaining: Dict[int, float],
                              title: str) -> Dict[str, bytes]:
    """Instability (percentage points, mean over replicates, error bars = sample standard deviation) against the
    spawn step k in iterations, one line per level (and per instability branch folder when there are several), as in
    Frankle, Dziugaite, Roy & Carbin (2020), Fig. 3-5. The k axis is logarithmic (symlog, so k = 0 shows) when the
    positive k span a decade or more, linear otherwise. `summary` has the rows of metric `instability` with a
    spawn_step column. Returns {'png': bytes, 'svg': bytes}."""
    from matplotlib.ticker import NullLocator
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    rows = summary[summary.metric == 'instability']
    folders = [f for f in labels if f in set(rows.folder)]
    markers = ['o', 's', '^', 'D', 'v', 'P', 'X']
    i = 0
    for folder in folders:
        for level in sorted(rows[rows.folder == folder]['level'].dropna().unique()):
            part = rows[(rows.folder == folder) & (rows.level == level)].sort_values('spawn_step')
            label = f'level {int(level)}' + (f' ({remaining[int(level)]:.3g}% remaining)'
                                             if int(level) in remaining else '')
            if len(folders) > 1:
                label += f', {labels[folder]}'
            n = int(part['n'].max())
            ax.errorbar(part['spawn_step'].astype(float), part['mean'], yerr=part['std'].fillna(0),
                        marker=markers[i % 7], markersize=5, capsize=3, linewidth=1.5, label=f'{label} (n={n})')
            i += 1
    steps = sorted(float(k) for k in rows['spawn_step'].dropna().unique())
    positive = [k for k in steps if k > 0]
    if len(positive) >= 2 and positive[-1] / positive[0] >= 10:
        ax.set_xscale('symlog', linthresh=positive[0])
        scale = 'symmetric log scale, linear below ' + f'{positive[0]:g}'
    else:
        scale = 'linear'
    if len(steps) <= 12:
        ax.set_xticks(steps, [f'{k:g}' for k in steps])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(f'Spawn step k (training iterations; {scale})')
    ax.set_ylabel('Instability (percentage points of test error)')
    ax.axhline(0, color='gray', linewidth=0.8)
    bars = _error_bars_note(rows['n'])
    ax.set_title(_wrap(title) + f'\ninstability against spawn step; mean over replicates; {bars}', fontsize=9)
    return _finish(fig, ax, formats=('png', 'svg'))


def interpolation_curves(curves: pd.DataFrame, remaining: Dict[int, float], title: str, max_levels: int = 3,
                         max_steps: int = 3) -> bytes:
    """Test error (percent, mean over replicates) of (1 - alpha) x child_a + alpha x child_b against alpha for up to
    `max_levels` levels x `max_steps` spawn steps k (spread from the first to the last), of the first instability
    branch folder; colour = level, line style = k. `curves` has the columns of tables.interpolation_frame. Returns
    PNG bytes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    test = curves[(curves.split == 'test') & (curves.folder == curves.folder.iloc[0])]
    styles = ['-', '--', ':', '-.']
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    levels = _spread(list(test['level'].unique()), max_levels)
    steps = _spread(list(test['spawn_step'].unique()), max_steps)
    for i, level in enumerate(levels):
        for j, k in enumerate(steps):
            part = test[(test.level == level) & (test.spawn_step == k)]
            if part.empty:
                continue
            mean = part.groupby('alpha')['accuracy'].mean().sort_index()
            n = part['replicate'].nunique()
            label = f'level {int(level)}' + (f' ({remaining[int(level)]:.3g}%)' if int(level) in remaining else '')
            ax.plot(mean.index, (1 - mean.values) * 100, color=colors[i % len(colors)], linestyle=styles[j % 4],
                    marker='.', label=f'{label}, k={int(k)}it (n={n})')
    ax.set_xlabel('Interpolation alpha (0: child a, 1: child b)')
    ax.set_ylabel('Test error (%)')
    ax.set_title(_wrap(title) + '\nlinear interpolation between the two children; mean over replicates', fontsize=9)
    return _finish(fig, ax)['png']
