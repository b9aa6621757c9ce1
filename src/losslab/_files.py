"""Writing output files safely: inside their folder, whole or not at all.

``write_atomic`` writes to a temporary file next to the target and renames it in place, so
an interrupted run leaves the previous file whole; it never writes through a symbolic link
(the rename replaces the link itself), and with ``root`` it refuses any path whose folder
resolves outside ``root`` (a linked folder pointing elsewhere included).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic", "output_file"]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def write_atomic(path: str | os.PathLike, data: bytes | str, *, root: str | os.PathLike | None = None) -> bool:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; True if a file was replaced.

    - ``root``: the output folder; ``path`` must lie inside it once every link in its folder
      is resolved, else a ValueError names both.
    - An existing symbolic link at ``path`` is replaced by the file, never followed.
    - A folder at ``path`` is an error (say which file to write inside it).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "a.txt", "one", root=folder), write_atomic(folder / "a.txt", "two", root=folder)
    (False, True)
    >>> (folder / "a.txt").read_text()
    'two'
    """
    target = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes or str; got {type(data).__name__}")
    if not target.name or target.name in (".", ".."):
        raise ValueError(f"{os.fspath(path)!r} names a folder, not a file")
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {os.fspath(path)!r}: the folder {os.fspath(folder)!r} does not exist")
    real_folder = folder.resolve()
    if root is not None:
        real_root = Path(root).resolve()
        if not _inside(real_folder, real_root):
            raise ValueError(f"refusing to write {os.fspath(path)!r}: it resolves to {os.fspath(real_folder)!r},"
                             f" outside the output folder {os.fspath(real_root)!r} (a symbolic link?)")
    final = real_folder / target.name
    if final.is_dir() and not final.is_symlink():
        raise ValueError(f"{os.fspath(path)!r} is a folder; give a file name inside it")
    replaced = final.exists() or final.is_symlink()
    fd, tmp = tempfile.mkstemp(dir=real_folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return replaced


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def output_file(out: str | os.PathLike, default_name: str, suffixes: tuple[str, ...]) -> Path:
    """The file an ``--out`` option names: inside ``out`` when it is an existing folder (or
    ends with a path separator), else ``out`` itself; its suffix must be one of ``suffixes``."""
    text = os.fspath(out)
    if not text.strip():
        raise ValueError("--out is empty; give a file name such as " + default_name)
    path = Path(text)
    if path.is_dir() or text.endswith((os.sep, "/")):
        if not path.is_dir():
            raise ValueError(f"--out {text!r}: the folder does not exist")
        path = path / default_name
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"--out {text!r}: the file must end in {', '.join(suffixes)}; got"
                         f" {path.suffix or 'no suffix'!r}")
    return path
