"""Reading and writing result files, and the errors a user can fix when a file or folder is unusable.

Writes are atomic: every result file is written to a temporary file in the same folder and renamed into place, so a
reader (or a resumed run) sees either the old complete file or the new complete file, never a torn one, whenever
the writing process is killed or the disk fills up.

Reads of `.pth` files are `torch.load(weights_only=True)` only: tensors, containers, numbers, strings and NumPy
scalars (the original OpenLTH's optimizer states hold NumPy learning rates). A file that asks for anything else is
refused, never unpickled, because unpickling can run arbitrary code.

Every problem found in a file or folder is raised as a `FileProblem` whose message is one line naming the file and
what to do; `cli/main.py` prints it as `open_lth.py: error: <message>` and exits with status 2.
"""

import errno
import fnmatch
import functools
import io
import os
import pickle
import tempfile

from foundations import paths

# torch and NumPy are imported by the functions that read or write weights, not here: the command line imports this
# module (for its errors) before it knows whether a job will run, and `import torch` alone costs over a second.


class FileProblem(RuntimeError):
    """A file or folder the job cannot use, for a reason the user can fix. The message is one line."""


class DamagedFile(FileProblem):
    """A file that exists but cannot be read as what its name says (truncated, overwritten, not ours).

    `path` is the file; `problem` says what is wrong with it; the message adds what to do (`fix`, by default
    `advice(path)`). Nothing is deleted or overwritten on the user's behalf: finished work stays as it is until the
    user decides.
    """

    def __init__(self, path: str, problem: str, fix: str = None):
        self.path = path
        self.problem = problem
        super().__init__(f'damaged file {path}: {problem}; {fix or advice(path)}')


class UnsafeFile(DamagedFile):
    """A `.pth` file that asks the unpickler for more than plain weights (possibly code): refused, not loaded."""


class WriteFailed(FileProblem):
    """A result file could not be written (full disk, quota, read-only or missing folder). Files already in place,
    including the last good checkpoint, are intact: atomic writes never replace a file with a torn one."""


# What to do about a damaged file, by file name (first match wins). The user decides; we never delete.
ADVICE = [
    ('checkpoint.pth', 'delete it to restart that run from its last saved model (its start), then run the same '
                       'command again'),
    ('mask.pth', 'delete it and sparsity_report.json beside it, then run the same command again to recompute both'),
    ('sparsity_report.json', 'delete it and mask.pth beside it, then run the same command again to recompute both'),
    ('logger', 'restore it from a copy, or delete it and run the same command again to rebuild it from '
               'checkpoint.pth (this rewrites the final model)'),
    ('hparams.log', 'delete it, then run the same command again to rewrite it (or restore it from a copy)'),
    ('model_*.pth', 'restore it from a copy, or delete it and run the same command again to recreate it '
                    '(a final model is retrained from checkpoint.pth, which rewrites the logger)'),
]
DEFAULT_ADVICE = 'delete it or restore it from a copy, then run the same command again'


def advice(path: str) -> str:
    """What a user should do about damaged `path` (one clause, by file name)."""
    name = os.path.basename(path)
    return next((text for pattern, text in ADVICE if fnmatch.fnmatch(name, pattern)), DEFAULT_ADVICE)


# Writing --------------------------------------------------------------------------------------------------------


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (mkstemp would use 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_failed(path: str, error: OSError) -> WriteFailed:
    reason = error.strerror or str(error)
    if error.filename and os.path.abspath(error.filename) != os.path.abspath(path):
        reason += f' ({error.filename})'
    folder = os.path.dirname(path) or '.'
    checkpoint = paths.checkpoint(folder)
    if os.path.basename(path) != 'checkpoint.pth' and not os.path.exists(checkpoint):
        kept = 'every file already written is intact'
    else:
        kept = (f'the last good checkpoint {checkpoint} is intact' if os.path.exists(checkpoint)
                else 'no checkpoint was written yet')
    fix = 'free some space' if error.errno in (errno.ENOSPC, errno.EDQUOT) else 'fix the folder'
    return WriteFailed(f'cannot write {path}: {reason}; {kept}: {fix}, then run the same command again to resume')


TEMPORARY_PREFIX, TEMPORARY_SUFFIX = '.', '.tmp'  # `.<name>.<random>.tmp`: a file being written atomically.


def is_being_written(file_name: str) -> bool:
    """Whether `file_name` is the temporary file of an atomic write in progress (or left by a killed one): another
    process may rename or remove it at any moment, so readers of a folder skip it."""
    return file_name.startswith(TEMPORARY_PREFIX) and file_name.endswith(TEMPORARY_SUFFIX)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + fsync + os.replace), creating the folder if needed.

    Raises WriteFailed (one line: the file, the OS reason, what is intact) for any OSError; the temporary file is
    removed and the previous `path`, if any, is untouched.
    """
    folder = os.path.dirname(path) or '.'
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX + os.path.basename(path) + '.',
                                   suffix=TEMPORARY_SUFFIX)
        os.chmod(tmp, _file_mode())
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise _write_failed(path, e) from None
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_torch_save(obj, path: str) -> None:
    """`torch.save(obj, path)`, atomically."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


# Reading --------------------------------------------------------------------------------------------------------


@functools.cache
def safe_numpy_globals() -> list:
    """The globals a pickled NumPy scalar needs, under NumPy 2 and NumPy 1 names: `scalar` (the reconstructor),
    `dtype`, and the dtype classes of the numeric scalar types (bool, signed and unsigned integers, floats).
    Nothing else: no arrays, no object dtype, no functions."""
    import numpy as np
    scalar = np._core.multiarray.scalar
    dtype_classes = [type(np.dtype(name)) for name in
                     ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
                      'float16', 'float32', 'float64')]
    return [(scalar, 'numpy._core.multiarray.scalar'), (scalar, 'numpy.core.multiarray.scalar'), np.dtype,
            *dtype_classes]



def torch_load(path: str, map_location='cpu'):
    """Load a `.pth` file written by us or by the original OpenLTH, with `weights_only=True` and no fallback.

    Allowed besides PyTorch's own safe types: NumPy scalars (`safe_numpy_globals()`), which the original's
    checkpoints hold as learning rates. Raises UnsafeFile if the file asks for any other global (it is not
    unpickled), DamagedFile if it cannot be read at all (text, truncated, empty), FileNotFoundError if missing.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    import torch
    try:
        with torch.serialization.safe_globals(safe_numpy_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        if 'Unsupported global' in text or 'Weights only load failed' in text:
            found = text.split('GLOBAL ', 1)[1].split(' ', 1)[0] if 'GLOBAL ' in text else 'an unsafe object'
            raise UnsafeFile(path, f'it is not a plain weights file (it asks to run {found}), so it was refused '
                                   'and not loaded') from None
        raise DamagedFile(path, 'it is truncated or not a PyTorch file') from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, KeyError, IndexError, TypeError) as e:
        if isinstance(e, IsADirectoryError):
            raise DamagedFile(path, 'it is a folder') from None
        if os.path.getsize(path) == 0:
            raise DamagedFile(path, 'it is empty') from None
        raise DamagedFile(path, 'it is truncated or not a PyTorch file') from None
