"""Flags every runner shares (`--replicate`, `--default_hparams`, `--quiet`, `--evaluate_only_at_end`, and the new
`--replicates` and `--concurrent`)."""

from dataclasses import dataclass
from typing import List, Optional

from cli import arg_utils
from foundations.hparams import Hparams, HparamsError


@dataclass
class JobArgs(Hparams):
    """How a job runs and where it is stored. None of these enter the hash."""

    replicate: int = 1
    default_hparams: Optional[str] = None
    quiet: bool = False
    evaluate_only_at_end: bool = False
    replicates: Optional[str] = None  # New in open_lth, like the next field: job flags, never hashed.
    concurrent: bool = False

    _name = 'High-Level Arguments'
    _description = 'Arguments that determine how the job is run and where it is stored.'
    _replicate = ('The index of this particular replicate. '
                  'Use a different replicate number to run another copy of the same experiment.')
    _default_hparams = 'Populate all arguments with the default hyperparameters for this model.'
    _quiet = 'Suppress output logging about the training status.'
    _evaluate_only_at_end = 'Run the test set only before and after training. Otherwise, will run every epoch.'
    _replicates = ('Several replicates in one command, as replicates and inclusive ranges separated by commas '
                   '(1-5 or 1,3): each is an ordinary run in replicate_<n>/. Overrides --replicate.')
    _concurrent = ('With --replicates: train the replicates together in one process, vectorised (train and '
                   'lottery; lottery levels advance together). Same folders and results as one after another.')

    def validate(self, prefix: str = None) -> None:
        self.check_at_least(self.replicate, 1, '--replicate')
        if self.replicates is not None:
            parse_replicates(self.replicates)

    @property
    def replicate_list(self) -> List[int]:
        """The replicates this job runs: `--replicates` parsed, else [`--replicate`]."""
        return parse_replicates(self.replicates) if self.replicates is not None else [self.replicate]


def parse_replicates(text: str) -> List[int]:
    """`'1-3,7'` -> [1, 2, 3, 7] (sorted, without duplicates; ranges inclusive, replicates >= 1).

    Raises HparamsError naming `--replicates` for anything else (empty items, `3-1`, `0`, `1-2-3`, spaces).
    """
    replicates = set()
    for item in text.split(','):
        parts = item.split('-')
        if not all(part.isascii() and part.isdigit() for part in parts) or len(parts) > 2 \
                or int(parts[0]) < 1 or int(parts[0]) > int(parts[-1]):
            raise HparamsError(f'argument --replicates: invalid replicate {item!r} in {text!r}: expected '
                               "replicates >= 1 and increasing inclusive ranges separated by commas, e.g. '1-5' "
                               "or '1,3'")
        replicates.update(range(int(parts[0]), int(parts[-1]) + 1))
    return sorted(replicates)


def maybe_get_default_hparams(argv: List[str]):
    """The `LotteryDesc` preset named by `--default_hparams`, or None. Raises HparamsError for unknown models."""
    from models import registry
    model_name = arg_utils.maybe_get_arg(argv, 'default_hparams')
    return registry.get_default_hparams(model_name) if model_name else None
