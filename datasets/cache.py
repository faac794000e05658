"""A disposable cache of decoded dataset splits, as memory-mapped NumPy arrays in the dataset's own folder.

Reading MNIST, Fashion-MNIST or CIFAR-10 with torchvision's dataset classes costs the import of torchvision (over a
second) and a decode at every start. The first read of a split stores what it decoded, uint8 examples (N, C, H, W)
and int64 labels (N,), as uncompressed `.npy` files in `<dataset folder>/open_lth_cache/`; later reads map those
files into memory (`np.load(mmap_mode='c')`: copy-on-write, so changing the arrays in memory never writes to the
file) and do not import torchvision at all.

Staleness. A small JSON manifest per split (`<split>.json`) records, for every source file the split is decoded
from, its size, modification and status-change times (ns), inode and SHA-256, and for every cache file its name and
size. On use:
  * every source's (size, mtime_ns, ctime_ns, inode) equals the manifest's: the cache is served, nothing is hashed;
  * a source's stat differs but its size does not: it is hashed again; the same hash (a copy, a `touch`) refreshes
    the manifest and the cache is served, another hash rebuilds the cache;
  * a size differs, or the manifest or a cache file is missing, unreadable, of the wrong size or layout: rebuilt.
The status-change time (ctime) cannot be set by a program, so a file rewritten in place with its size and
modification time restored is still noticed. A source changed within `RACY_WINDOW_NS` of being hashed could share
its old timestamps (file systems keep them at a coarse granularity); its stat is then not trusted and it is hashed
again at the next use, as git does for "racily clean" files. A source that changes while the cache is built leaves
no cache behind.

Building never deletes or overwrites anything in use: each array is written to a unique temporary file, synced and
renamed into place under a name that includes a hash of its sources, then the manifest is replaced atomically, so two
processes building at once each leave a complete cache. A folder that cannot be written is no error: the split is
then read (decoded) every time. The whole `open_lth_cache` folder is safe to delete at any time.
"""

import hashlib
import json
import os
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

FOLDER = 'open_lth_cache'
FORMAT = 1  # Bump when the layout of the cached arrays or of the manifest changes: old caches are then rebuilt.
HASH = 'sha256'  # ~1.6 GB/s here (SHA-1 1.7, BLAKE2b 0.9, MD5 0.7 GB/s on this machine's CPU).
RACY_WINDOW_NS = 2_000_000_000  # A source whose timestamps are younger than this when hashed is rehashed next time.
ARRAYS = ('examples', 'labels')

Arrays = Tuple[np.ndarray, np.ndarray]


def cache_folder(dataset_folder: str) -> str:
    """`<dataset_folder>/open_lth_cache`, where the cached splits of that dataset live."""
    return os.path.join(dataset_folder, FOLDER)


def load(dataset_folder: str, split: str, sources: Sequence[str], build: Callable[[], Arrays]) -> Arrays:
    """The split's (examples, labels): from the cache when it is fresh, otherwise from `build()` (then cached).

    dataset_folder: the dataset's folder (e.g. `<dataset_root>/mnist`); the cache goes in its `open_lth_cache/`.
    split: the split's name ('train', 'test'), naming its files.
    sources: paths of every file the split is decoded from (they must exist; `build` reports damaged ones).
    build: decodes the split: (examples uint8 (N, C, H, W), labels int64 (N,)) NumPy arrays.

    Returns (examples uint8 (N, C, H, W), labels int64 (N,)) as writable NumPy arrays: memory-mapped copy-on-write
    from the cache (changes stay in this process's memory), or `build`'s own arrays. Raises whatever `build` raises
    (e.g. DamagedFile); a problem with the cache itself is never an error (the split is decoded instead).
    """
    folder = cache_folder(dataset_folder)
    names = {_relative(dataset_folder, path): path for path in sources}
    manifest_path = os.path.join(folder, f'{split}.json')
    manifest = _read_manifest(manifest_path, split, names)
    if manifest is not None:
        refreshed = _sources_unchanged(manifest, names)
        if refreshed is not None:
            arrays = _open_arrays(folder, manifest)
            if arrays is not None:
                if refreshed:
                    _try_write_manifest(manifest_path, manifest)
                return arrays
    return _build(folder, split, names, build)


# Sources ----------------------------------------------------------------------------------------------------------


def _relative(dataset_folder: str, path: str) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(dataset_folder)).replace(os.sep, '/')


def _stamp(stat: os.stat_result) -> Dict[str, int]:
    return {'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns, 'ctime_ns': stat.st_ctime_ns, 'inode': stat.st_ino}


def file_hash(path: str) -> str:
    """The SHA-256 of a file's content, hex."""
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, HASH).hexdigest()


def _describe(path: str) -> Dict[str, object]:
    """A source's manifest entry: its stat (taken before hashing), hash, and whether the stat can be trusted later."""
    stat = os.stat(path)
    hashed_at = time.time_ns()
    entry = dict(_stamp(stat), hash=file_hash(path))
    entry['trusted'] = max(stat.st_mtime_ns, stat.st_ctime_ns) < hashed_at - RACY_WINDOW_NS
    return entry


def _sources_unchanged(manifest: dict, names: Dict[str, str]) -> Optional[bool]:
    """None if a source changed (the cache is stale); otherwise whether the manifest's entries were refreshed
    (a stat that differed with the same content, or a racy entry that is now old enough to trust)."""
    refreshed = False
    for name, path in names.items():
        entry = manifest['sources'][name]
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if entry['trusted'] and _stamp(stat) == {key: entry[key] for key in ('size', 'mtime_ns', 'ctime_ns', 'inode')}:
            continue
        if stat.st_size != entry['size']:
            return None
        try:
            fresh = _describe(path)
        except OSError:
            return None
        if fresh['hash'] != entry['hash']:
            return None
        manifest['sources'][name] = fresh
        refreshed = True
    return refreshed


# The manifest and the cached arrays -------------------------------------------------------------------------------


def _read_manifest(path: str, split: str, names: Dict[str, str]) -> Optional[dict]:
    """The manifest at `path` if it is readable, of this FORMAT and split, and describes exactly these sources."""
    try:
        with open(path) as f:
            manifest = json.load(f)
        if manifest.get('format') != FORMAT or manifest.get('split') != split:
            return None
        sources, arrays = manifest['sources'], manifest['arrays']
        if set(sources) != set(names) or set(arrays) != set(ARRAYS):
            return None
        for entry in sources.values():
            if not all(isinstance(entry[key], int) for key in ('size', 'mtime_ns', 'ctime_ns', 'inode')):
                return None
            if not isinstance(entry['hash'], str) or not isinstance(entry['trusted'], bool):
                return None
        for entry in arrays.values():
            if not isinstance(entry['file'], str) or os.path.basename(entry['file']) != entry['file']:
                return None
            if not isinstance(entry['size'], int):
                return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _open_arrays(folder: str, manifest: dict) -> Optional[Arrays]:
    """The cached arrays, memory-mapped copy-on-write, or None when a file is missing or not the one recorded."""
    arrays = []
    for name in ARRAYS:
        entry = manifest['arrays'][name]
        path = os.path.join(folder, entry['file'])
        try:
            if os.stat(path).st_size != entry['size']:
                return None
            array = np.load(path, mmap_mode='c', allow_pickle=False)
        except (OSError, ValueError):
            return None
        if list(array.shape) != entry.get('shape') or array.dtype.str != entry.get('dtype'):
            return None
        arrays.append(array.view(np.ndarray))  # A plain ndarray view; the mapping lives as long as it does.
    examples, labels = arrays
    if examples.ndim != 4 or examples.dtype != np.uint8 or labels.shape != (examples.shape[0],) \
            or labels.dtype != np.int64:
        return None
    return examples, labels


def _try_write_manifest(path: str, manifest: dict) -> bool:
    """Replace the manifest atomically; False (and nothing changed) when the folder cannot be written."""
    from foundations.io import FileProblem, atomic_write_text
    try:
        atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True))
        return True
    except FileProblem:
        return False


def _write_array(folder: str, file_name: str, array: np.ndarray) -> None:
    """`np.save` to a unique temporary file in `folder`, synced, then renamed to `file_name`. Raises OSError."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{file_name}.', suffix='.tmp')
    try:
        os.chmod(tmp, _file_mode())  # Readable by whoever may read the dataset folder (mkstemp gives 0600).
        with os.fdopen(fd, 'wb') as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, file_name))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _build(folder: str, split: str, names: Dict[str, str], build: Callable[[], Arrays]) -> Arrays:
    """Decode the split with `build()`, cache it when the folder is writable and the sources held still, return it."""
    sources = {name: _describe(path) for name, path in names.items()}
    examples, labels = build()
    examples = np.ascontiguousarray(examples, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    try:
        if any(_stamp(os.stat(path)) != {k: sources[name][k] for k in ('size', 'mtime_ns', 'ctime_ns', 'inode')}
               for name, path in names.items()):
            return examples, labels  # A source changed while it was read: cache nothing.
    except OSError:
        return examples, labels
    key = hashlib.sha256(json.dumps([FORMAT, split, sorted((n, s['hash']) for n, s in sources.items())])
                         .encode()).hexdigest()[:16]
    manifest = {'format': FORMAT, 'split': split, 'sources': sources, 'arrays': {}}
    try:
        os.makedirs(folder, exist_ok=True)
        for name, array in zip(ARRAYS, (examples, labels)):
            file_name = f'{split}.{key}.{name}.npy'
            _write_array(folder, file_name, array)
            manifest['arrays'][name] = {'file': file_name, 'size': os.stat(os.path.join(folder, file_name)).st_size,
                                        'shape': list(array.shape), 'dtype': array.dtype.str}
    except OSError:
        return examples, labels  # A read-only dataset folder (or a full disk): no cache, no error.
    if _try_write_manifest(os.path.join(folder, f'{split}.json'), manifest):
        _remove_leftovers(folder, split, key)
    return examples, labels


def _remove_leftovers(folder: str, split: str, key: str) -> None:
    """Delete the split's array files of other sources (replaced caches), and temporary files of builds that were
    killed over an hour ago. A process that has such a file mapped keeps its data; one about to open it rebuilds."""
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        replaced = entry.name.startswith(f'{split}.') and entry.name.endswith('.npy') \
            and not entry.name.startswith(f'{split}.{key}.')
        try:
            killed = entry.name.startswith(f'.{split}.') and entry.name.endswith('.tmp') \
                and entry.stat().st_mtime < now - 3600
            if replaced or killed:
                os.remove(entry.path)
        except OSError:
            pass
