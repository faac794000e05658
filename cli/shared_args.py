"""Flags every runner shares (`--replicate`, `--default_hparams`, `--quiet`, `--evaluate_only_at_end`, and the new
`--concurrent`)."""

from dataclasses import dataclass
from typing import List, Optional

from cli import arg_utils
from foundations.hparams import Hparams


@dataclass
class JobArgs(Hparams):
    """How a job runs and where it is stored. None of these enter the hash."""

    replicate: int = 1
    default_hparams: Optional[str] = None
    quiet: bool = False
    evaluate_only_at_end: bool = False
    tensorboard: bool = False  # New in open_lth; like every field here, not part of any hash.
    concurrent: bool = False  # New in open_lth: a job flag, never hashed.

    _name = 'High-Level Arguments'
    _description = 'Arguments that determine how the job is run and where it is stored.'
    _replicate = ('The index of this particular replicate. '
                  'Use a different replicate number to run another copy of the same experiment.')
    _default_hparams = 'Populate all arguments with the default hyperparameters for this model.'
    _quiet = 'Suppress output logging about the training status.'
    _evaluate_only_at_end = 'Run the test set only before and after training. Otherwise, will run every epoch.'
    _tensorboard = ('Also write TensorBoard event files beside each run\'s logger (tensorboard --logdir '
                    '$OPEN_LTH_ROOT shows every run by its folder name).')
    _concurrent = ('With --replicates: train the replicates together in one process, vectorised (train and '
                   'lottery, on the local platform; lottery levels advance together). Same folders and results as '
                   'one after another.')

    def validate(self, prefix: str = None) -> None:
        self.check_at_least(self.replicate, 1, '--replicate')


def maybe_get_default_hparams(argv: Optional[List[str]] = None):
    """The `LotteryDesc` preset named by `--default_hparams` in argv (default sys.argv), or None.

    Raises HparamsError for unknown models."""
    from models import families
    model_name = arg_utils.maybe_get_arg('default_hparams', argv=argv)
    return families.get_default_hparams(model_name) if model_name else None
