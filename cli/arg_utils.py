"""Pre-parsing: read one flag or positional from argv before the full parser exists.

Which flags exist depends on a few others (`--default_hparams` sets defaults, `--pruning_strategy` chooses the
pruning flags, `--pretrain` adds the pretraining flags, the branch name adds the branch's flags), so those are read
first with a throwaway argparse parser that ignores everything else and never prints or exits.
"""

import argparse
from typing import List, Optional


class _SilentParser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)

    def exit(self, status=0, message=None):
        raise ValueError(message)


def maybe_get_arg(argv: List[str], arg_name: str, positional: bool = False, position: int = 0,
                  boolean_arg: bool = False) -> Optional[str]:
    """The value of `--<arg_name>` (or of the positional at `position`) in argv[1:], or None if absent.

    Uses argparse's own matching, so `--flag=value`, `--flag value` and unambiguous abbreviations behave as in the
    full parser. With `boolean_arg`, returns True/False for a store_true flag.
    """
    parser = _SilentParser(add_help=False)
    if positional:
        for i in range(position):
            parser.add_argument(f'arg{i}')
        parser.add_argument(arg_name)
    elif boolean_arg:
        parser.add_argument(f'--{arg_name}', action='store_true')
    else:
        parser.add_argument(f'--{arg_name}', type=str, default=None)
    try:
        args, _ = parser.parse_known_args(argv[1:])
    except ValueError:
        return None
    return getattr(args, arg_name)
