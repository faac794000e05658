"""Pre-parsing: read one flag or positional from argv before the full parser exists.

Which flags exist depends on a few others (`--default_hparams` sets defaults, `--pruning_strategy` chooses the
pruning flags, `--pretrain` adds the pretraining flags, the branch name adds the branch's flags), so those are read
first with a throwaway argparse parser that ignores everything else and never prints or exits.

`argv` is passed explicitly inside open_lth (cli/main.py reads `sys.argv` once); when it is omitted, as in code
written for the original OpenLTH, `sys.argv` is read here (`current_argv`).
"""

import argparse
import sys
from typing import List, Optional


class _SilentParser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)

    def exit(self, status=0, message=None):
        raise ValueError(message)


def current_argv(argv: Optional[List[str]] = None) -> List[str]:
    """`argv` itself, or the process's `sys.argv` when it is None (what every `argv=None` argument means)."""
    return list(sys.argv) if argv is None else list(argv)


def maybe_get_arg(arg_name: str, positional: bool = False, position: int = 0, boolean_arg: bool = False, *,
                  argv: Optional[List[str]] = None):
    """The value of `--<arg_name>` (or of the positional at `position`) in argv[1:], or None if absent.

    The original's signature, with `argv` (default `sys.argv`) as a keyword. Uses argparse's own
    matching, so `--flag=value`, `--flag value` and unambiguous abbreviations behave as in the full parser. With
    `boolean_arg`, returns True/False for a store_true flag. Unlike the original it never prints.
    """
    if isinstance(arg_name, (list, tuple)):  # Transitional: the earlier form maybe_get_arg(argv, arg_name, ...).
        argv, arg_name, positional = arg_name, positional, False
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
        args, _ = parser.parse_known_args(current_argv(argv)[1:])
    except ValueError:
        return None
    return getattr(args, arg_name)
