"""`MetricLogger`: the metrics of one training run, saved as the `logger` file (`name,iteration,value` lines)."""

import csv
import io
import os
from typing import Dict, List, Tuple

from foundations import paths
from foundations.io import DamagedFile, atomic_write_text
from foundations.step import Step


class MetricLogger:
    """Metric values keyed by (name, iteration), kept in insertion order.

    The file format is the original OpenLTH's: one `name,iteration,value` line per entry, values as Python
    `str(float)` (e.g. `test_accuracy,469,0.9612`), lines joined by `\\n` with no final newline. Re-adding an
    existing (name, iteration) overwrites the value and keeps its position.
    """

    def __init__(self):
        self.log: Dict[Tuple[str, int], float] = {}

    def add(self, name: str, step: Step, value: float) -> None:
        """Record `value` for metric `name` at `step` (stored as a float)."""
        self.log[(name, step.iteration)] = float(value)

    def __str__(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator='\n').writerows((name, it, value) for (name, it), value in self.log.items())
        return buffer.getvalue()[:-1]  # No final newline, as the original.

    @staticmethod
    def create_from_string(text: str) -> 'MetricLogger':
        """Parse the `logger` file format (an empty or blank string gives an empty logger).

        Raises ValueError naming the first line that is not `name,iteration,value` (a name, an integer, a number).
        """
        logger = MetricLogger()
        if text.strip():
            for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
                try:
                    name, iteration, value = row
                    logger.log[(name, int(iteration))] = float(value)
                except ValueError:
                    raise ValueError(f'line {number} is not name,iteration,value') from None
        return logger

    @staticmethod
    def create_from_file(location: str) -> 'MetricLogger':
        """The logger saved in `location`. Raises DamagedFile if the file is not UTF-8 text in the logger format,
        FileNotFoundError if there is none."""
        path = paths.logger(location)
        try:
            with open(path, encoding='utf-8') as f:
                return MetricLogger.create_from_string(f.read())
        except (UnicodeDecodeError, ValueError, csv.Error) as e:
            problem = 'it is not text' if isinstance(e, UnicodeDecodeError) else str(e)
            raise DamagedFile(path, problem) from None

    @staticmethod
    def check_finished(location: str, end_iteration: int) -> None:
        """Raise DamagedFile unless the logger in `location` parses and holds metrics at `end_iteration` (every
        finished run evaluates at its end step, so a logger without them was cut short)."""
        logger = MetricLogger.create_from_file(location)
        if not logger.log:
            raise DamagedFile(paths.logger(location), 'it is empty')
        if not any(it == end_iteration for _, it in logger.log):
            raise DamagedFile(paths.logger(location), f'it has no metrics for the final iteration {end_iteration} '
                                                      '(it was cut short)')

    @staticmethod
    def exists(location: str) -> bool:
        return os.path.exists(paths.logger(location))

    def save(self, location: str) -> None:
        """Write `<location>/logger` atomically (callers decide which process saves)."""
        atomic_write_text(paths.logger(location), str(self))

    def get_data(self, desired_name: str) -> List[Tuple[int, float]]:
        """[(iteration, value), ...] of one metric, sorted by iteration."""
        return sorted((it, v) for (name, it), v in self.log.items() if name == desired_name)
