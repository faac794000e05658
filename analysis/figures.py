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
    bars = ('error bars: one sample standard deviation' if (accuracy['n'] > 1).any()
            else 'one replicate: no error bars')
    ax.set_title(_wrap(title) + f'\nmean over replicates; {bars}', fontsize=9)
    ax.grid(True, which='major', alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    fig.tight_layout()
    out = {'png': _save(fig, 'png'), 'svg': _save(fig, 'svg')}
    plt.close(fig)
    return out


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
    ax.set_title(_wrap(title) + '\nmain (IMP) runs; mean over replicates, shaded: one sample standard '
                 'deviation', fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    png = _save(fig, 'png')
    plt.close(fig)
    return png
