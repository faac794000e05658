"""open_lth: a framework for lottery-ticket and pruning experiments. Run `python open_lth.py` for the commands."""

import sys

from cli.main import main

if __name__ == '__main__':
    sys.exit(main())
