"""Reading results in notebooks and scripts (the `list` and `report` subcommands use the same functions).

    from analysis import load_logger, load_experiment, list_experiments
    runs = load_experiment('~/open_lth_data/lottery_<md5>')     # tidy DataFrame, the rows of report/runs.csv
    curve = load_logger('~/open_lth_data/lottery_<md5>/replicate_1/level_3/main')

pandas is imported when a function is called, not when this package is imported.
"""

import os


def load_logger(path: str):
    """The `logger` of a run folder (or the `logger` file itself) as a pandas DataFrame with columns name (e.g.
    test_accuracy), iteration (int, training iterations) and value (float; accuracies are fractions). Raises
    OSError when it cannot be read and ValueError when it is empty or damaged."""
    from analysis import results, tables
    path = os.path.expanduser(path)
    folder = os.path.dirname(path) if os.path.basename(path) == 'logger' and os.path.isfile(path) else path
    return tables.logger_frame(results.read_logger(folder))


def load_experiment(location: str):
    """Every finished run of an experiment (a folder path) as a tidy pandas DataFrame, the rows of
    `report/runs.csv`: columns experiment, branch (label), folder (main or the branch folder), replicate, level,
    metric, value (see analysis.tables.METRICS). Damaged and unfinished runs are left out. Raises ResultsError
    when `location` is not an experiment folder."""
    from analysis import results, tables
    location = os.path.abspath(os.path.expanduser(location))
    path = results.find_experiment(os.path.dirname(location), os.path.basename(location))
    return tables.runs_frame(results.load(path))


def list_experiments(root: str):
    """One row per experiment under `root` as a pandas DataFrame, the fields of `open_lth.py list --json`
    (experiment, kind, model, dataset, hparams, replicates, deepest_level, percent_remaining, branches,
    test_accuracy (percent), status, damaged, size_bytes). Raises ResultsError when `root` is not a folder."""
    import pandas as pd
    from analysis import listing
    return pd.DataFrame(listing.list_experiments(os.path.abspath(os.path.expanduser(root))),
                        columns=['experiment', 'kind', 'model', 'dataset', 'hparams', 'replicates', 'deepest_level',
                                 'percent_remaining', 'branches', 'test_accuracy', 'status', 'damaged', 'size_bytes'])
