"""open_lth: a framework for lottery-ticket and pruning experiments. Run `python open_lth.py` for the commands."""

import os
import sys

# Idle OpenMP threads sleep instead of spinning. With spinning (the default), two jobs sharing a few CPU cores slow
# each other down by up to 30x; sleeping costs nothing measurable for one job. Must be set before torch loads.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

from cli.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
