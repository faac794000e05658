"""Atomic writes: every result file is written to a temporary file in the same folder and renamed into place.

A reader (or a resumed run) therefore sees either the old complete file or the new complete file, never a torn one,
whenever the writing process is killed.
"""

import io
import os
import pickle
import tempfile

import torch


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (mkstemp would use 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + fsync + os.replace), creating the folder if needed."""
    folder = os.path.dirname(path) or '.'
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.', suffix='.tmp')
    try:
        os.chmod(tmp, _file_mode())
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_torch_save(obj, path: str) -> None:
    """`torch.save(obj, path)`, atomically."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def torch_load(path: str, map_location='cpu'):
    """Load a `.pth` file written by us (plain tensors and containers) or by the original OpenLTH.

    The original stored numpy integers in checkpoints, which `weights_only=True` refuses; those fall back to a full
    unpickle, which is safe only for files you wrote yourself.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # Legacy checkpoints of the original code base.
        return torch.load(path, map_location=map_location, weights_only=False)
