"""`Step`: a point in training, as a total iteration count that also reads as (epoch, iteration-in-epoch)."""

import functools


@functools.total_ordering
class Step:
    """A training step: `iteration` total iterations, with `iterations_per_epoch` iterations in each epoch.

    `ep` = iteration // iterations_per_epoch and `it` = iteration % iterations_per_epoch. Steps compare by
    iteration; comparing steps with different epoch lengths, or a Step with anything else, raises ValueError.

    Raises ValueError when iteration < 0 or iterations_per_epoch <= 0.
    """

    def __init__(self, iteration: int, iterations_per_epoch: int):
        if iteration < 0:
            raise ValueError('iteration must >= 0.')
        if iterations_per_epoch <= 0:
            raise ValueError('iterations_per_epoch must be > 0.')
        self._iteration = int(iteration)
        self._iterations_per_epoch = int(iterations_per_epoch)

    # Constructors -------------------------------------------------------------------------------------------

    @staticmethod
    def zero(iterations_per_epoch: int) -> 'Step':
        """The first step of training."""
        return Step(0, iterations_per_epoch)

    @staticmethod
    def from_iteration(iteration: int, iterations_per_epoch: int) -> 'Step':
        """The step after `iteration` total iterations."""
        return Step(iteration, iterations_per_epoch)

    @staticmethod
    def from_epoch(epoch: int, iteration: int, iterations_per_epoch: int) -> 'Step':
        """Epoch `epoch`, iteration `iteration` within it (normalised: (0, 500) at 391 it/ep is (1, 109))."""
        return Step(epoch * iterations_per_epoch + iteration, iterations_per_epoch)

    @staticmethod
    def parse_str(s: str):
        """Parse `'<n>ep'`, `'<n>it'` or `'<n>ep<m>it'` into (epochs, iterations) without an epoch length.

        The string must round-trip exactly, so spaces, `+` signs, upper case and leading zeros are rejected
        (`'040ep'`, `'00it'`, `' 1ep'`). Raises ValueError('Malformed string step: ...') or int()'s ValueError,
        as the original does.
        """
        if 'ep' in s and 'it' in s:
            ep = int(s.split('ep')[0])
            it = int(s.split('ep')[1].split('it')[0])
            if s != f'{ep}ep{it}it':
                raise ValueError(f'Malformed string step: {s}')
            return ep, it
        if 'ep' in s:
            ep = int(s.split('ep')[0])
            if s != f'{ep}ep':
                raise ValueError(f'Malformed string step: {s}')
            return ep, 0
        if 'it' in s:
            it = int(s.split('it')[0])
            if s != f'{it}it':
                raise ValueError(f'Malformed string step: {s}')
            return 0, it
        raise ValueError(f'Malformed string step: {s}')

    @staticmethod
    def from_str(s: str, iterations_per_epoch: int) -> 'Step':
        """A step string (`'160ep'`, `'500it'`, `'3ep20it'`) at the given epoch length. Raises ValueError."""
        ep, it = Step.parse_str(s)
        return Step.from_epoch(ep, it, iterations_per_epoch)

    @staticmethod
    def str_is_zero(s: str) -> bool:
        """True only for the literal zero strings `0ep`, `0it` and `0ep0it`."""
        return s in ('0ep', '0it', '0ep0it')

    # Properties ---------------------------------------------------------------------------------------------

    @property
    def iteration(self) -> int:
        """Total iterations from the start of training."""
        return self._iteration

    @property
    def iterations_per_epoch(self) -> int:
        """Iterations in one epoch (batches per pass over the training set)."""
        return self._iterations_per_epoch

    @property
    def ep(self) -> int:
        """Completed epochs."""
        return self._iteration // self._iterations_per_epoch

    @property
    def it(self) -> int:
        """Iterations into the current epoch."""
        return self._iteration % self._iterations_per_epoch

    # Comparison ---------------------------------------------------------------------------------------------

    def _check(self, other) -> None:
        if not isinstance(other, Step):
            raise ValueError(f'Invalid type for other: {type(other)}.')
        if self._iterations_per_epoch != other._iterations_per_epoch:
            raise ValueError('Cannot compare steps when epochs are of different lengths.')

    def __eq__(self, other) -> bool:
        self._check(other)
        return self._iteration == other._iteration

    def __lt__(self, other) -> bool:
        self._check(other)
        return self._iteration < other._iteration

    def __hash__(self) -> int:
        return hash((self._iteration, self._iterations_per_epoch))

    def __str__(self) -> str:
        return f'(Iteration {self._iteration}; Iterations per Epoch: {self._iterations_per_epoch})'

    __repr__ = __str__
