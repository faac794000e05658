"""`MetricLogger`: the metrics of one training run, saved as the `logger` file (`name,iteration,value` lines)."""

import csv
import io
import os
from typing import Dict, List, Tuple

from foundations import paths
from foundations.io import atomic_write_text
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
        """Parse the `logger` file format (an empty or blank string gives an empty logger)."""
        logger = MetricLogger()
        if text.strip():
            for name, iteration, value in csv.reader(io.StringIO(text)):
                logger.log[(name, int(iteration))] = float(value)
        return logger

    @staticmethod
    def create_from_file(location: str) -> 'MetricLogger':
        with open(paths.logger(location)) as f:
            return MetricLogger.create_from_string(f.read())

    @staticmethod
    def exists(location: str) -> bool:
        return os.path.exists(paths.logger(location))

    def save(self, location: str) -> None:
        """Write `<location>/logger` atomically (callers decide which process saves)."""
        atomic_write_text(paths.logger(location), str(self))

    def get_data(self, desired_name: str) -> List[Tuple[int, float]]:
        """[(iteration, value), ...] of one metric, sorted by iteration."""
        return sorted((it, v) for (name, it), v in self.log.items() if name == desired_name)
