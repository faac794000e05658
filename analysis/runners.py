"""The `list` and `report` subcommands (registered after the original three in cli/runner_registry.py).

Neither trains: they read result folders. pandas and matplotlib are imported only inside `report`'s run, so
importing this module (which every `open_lth.py` start does) costs nothing.
"""

import argparse
import os
import sys
from typing import List, Optional

from platforms import platform as current_platform

from analysis import results
from cli import arg_utils, shared_args
from foundations.runner import Runner

EXPERIMENT_HELP = ('The experiment to report on: its folder name under the results root (e.g. lottery_<md5>, as '
                   '`open_lth.py list` prints it) or a path to it. Without it, give the flags of the lottery or train '
                   'run, exactly as for that run (they identify it).')


def print_lines(lines) -> None:
    """Print to stdout; a reader that stops early (`open_lth.py list | head`) ends the output quietly."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # No second error at interpreter exit.


class ListRunner(Runner):
    """`list`: one line per experiment under the results root (see analysis/listing.py)."""

    reads_only = True
    uses_devices = False

    def __init__(self, root: str, as_json: bool = False):
        self.root = root
        self.as_json = as_json

    @staticmethod
    def description() -> str:
        return 'List the experiments under the results root.'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        parser.set_defaults(replicate=None)  # No replicates to sweep over (cli/sweep.py reads args.replicate).
        group = parser.add_argument_group('List Arguments', 'Which results to list, and how.')
        group.add_argument('--root', type=str, default=None,
                           help='The results root to list (default: $OPEN_LTH_ROOT, else ~/open_lth_data).')
        group.add_argument('--json', action='store_true', help='Print one JSON object per line, for scripts.')

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'ListRunner':
        root = args.root and os.path.abspath(os.path.expanduser(args.root))
        return ListRunner(root or current_platform.resolve(platform).root, args.json)

    def display_output_location(self) -> None:
        print(self.root)

    def run(self) -> None:
        from analysis import listing
        entries = listing.list_experiments(self.root)
        if not entries and not self.as_json:
            print(f'No experiments under {self.root}.')
        print_lines(listing.format_json(entry) if self.as_json else listing.format_line(entry) for entry in entries)


class ReportRunner(Runner):
    """`report`: the table, CSV files and figures of one experiment (see analysis/report.py)."""

    uses_devices = False

    def __init__(self, root: str, experiment: Optional[str], descs: list, show_layers: bool = False):
        self.root = root
        self.experiment = experiment
        self.descs = descs
        self.show_layers = show_layers

    @staticmethod
    def description() -> str:
        return 'Report the results of an experiment: a table, CSV files and figures.'

    @staticmethod
    def add_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> None:
        """`--experiment` and `--layers`; without `--experiment`, the flags that identify a lottery run (as for
        branches) or, when neither `--default_hparams` nor `--pruning_strategy` is given, a train run."""
        from lottery.desc import LotteryDesc
        from training.desc import TrainingDesc
        parser.set_defaults(replicate=None)  # It reports every replicate (cli/sweep.py reads args.replicate).
        group = parser.add_argument_group('Report Arguments', 'Which experiment to report on, and what to show.')
        group.add_argument('--experiment', type=str, default=None, help=EXPERIMENT_HELP)
        group.add_argument('--layers', action='store_true',
                           help='Also print the density of each prunable tensor at each level (from mask.pth), '
                                'for main and for each branch whose masks differ (layers.csv then has the branches '
                                'too).')
        # Accepted and ignored, so a lottery command can be reused as it is: every level found is reported.
        group.add_argument('--levels', type=str, default=None, help=argparse.SUPPRESS)
        argv = arg_utils.current_argv(argv)
        if arg_utils.maybe_get_arg('experiment', argv=argv) is not None:
            return
        parser.add_argument('--default_hparams', type=str, default=None, help=shared_args.JobArgs._default_hparams)
        defaults = shared_args.maybe_get_default_hparams(argv)
        if defaults is None and arg_utils.maybe_get_arg('pruning_strategy', argv=argv) is None:
            TrainingDesc.add_args(parser)
        else:
            LotteryDesc.add_args(parser, defaults, argv=argv)

    @staticmethod
    def create_from_args(args: argparse.Namespace, platform=None) -> 'ReportRunner':
        from lottery.desc import LotteryDesc
        from training.desc import TrainingDesc
        descs = []
        if args.experiment is None:
            if getattr(args, 'pruning_strategy', None) is not None:
                descs.append(LotteryDesc.create_from_args(args))
            descs.append(TrainingDesc.create_from_args(args))
            for desc in descs:
                desc.validate()
        return ReportRunner(current_platform.resolve(platform).root, args.experiment, descs,
                            show_layers=args.layers)

    def experiment_path(self) -> str:
        """The experiment folder; raises ResultsError when it does not exist."""
        if self.experiment is not None:
            return results.find_experiment(self.root, self.experiment)
        for desc in self.descs:
            path = os.path.join(self.root, desc.hashname)
            if os.path.isdir(path):
                return path
        names = ' or '.join(desc.hashname for desc in self.descs)
        raise results.ResultsError(f'no experiment with these hyperparameters under {self.root} (looked for '
                                   f'{names}); give the flags exactly as for the run, or --experiment')

    def display_output_location(self) -> None:
        print(os.path.join(self.experiment_path(), 'report'))

    def run(self) -> None:
        from analysis import report
        built = report.build(self.experiment_path(), all_layers=self.show_layers)
        written = report.write(built)
        print_lines([report.render_stdout(built, written, self.show_layers)])
