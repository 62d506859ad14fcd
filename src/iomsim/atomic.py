"""Writing files and folders so that a reader never sees one half-written.

A file is written to a hidden temporary beside it, ``.<name>.tmp-<pid>-<random>``, flushed to
disk, renamed over the target with :func:`os.replace` (atomic on POSIX and Windows within one
file system) and the folder's entry is flushed too. A whole folder is written the same way by
:class:`AtomicFolder`. Whatever stops the writer part way (an exception, Ctrl-C, SIGKILL, a power
cut) leaves the target as it was, plus at most a hidden temporary: an exception removes it at
once, and :func:`remove_stale_temporaries` removes those whose writer is gone.

The temporaries carry the writer's pid so that a later writer can tell an abandoned temporary
from one that a live process is still writing.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


def temporary_name(name: str) -> str:
    """The hidden name a temporary for ``name`` gets: ``.<name>.tmp-<pid>-<random>``."""
    return f".{name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename into it), where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames need no such flush
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to write a hidden temporary beside ``path``, then move it into place.

    The temporary exists (empty, with the permissions of any new file) before ``write`` is
    called, so ``write`` may open it by name; on any exception it is removed and the exception
    goes on. Returns ``path``.
    """
    path = Path(path)
    tmp = path.with_name(temporary_name(path.name))
    # O_EXCL: never write through a file someone else made; mode 0o666 lets the umask decide,
    # as for any file the user's programs create.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return write_atomic(path, lambda p: p.write_bytes(data))


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding=encoding))


def write_json_atomic(data: Any, path: str | Path, *, sort_keys: bool = False) -> Path:
    """JSON indented by two, one trailing newline; values JSON cannot hold are written as str."""
    text = json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n"
    return write_atomic(path, lambda p: p.write_text(text))


def write_parquet_atomic(frame, path: str | Path) -> Path:
    """A pandas DataFrame as Parquet, without its index."""
    return write_atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_csv_atomic(frame, path: str | Path, *, float_format: str | None = None) -> Path:
    """A pandas DataFrame as CSV, without its index, with ``\\n`` line ends on every platform."""
    return write_atomic(path, lambda p: frame.to_csv(p, index=False, float_format=float_format,
                                                     lineterminator="\n"))


class AtomicFolder:
    """A folder written whole or not at all.

    Creating one makes the parents of ``out``, removes temporaries of ``out`` left by writers
    that are gone, and makes a hidden temporary folder beside ``out`` (``OSError`` if it cannot).
    Used as a context manager it gives that folder's path; when the block ends normally every
    file in it is flushed to disk and the folder takes the place of ``out`` (an existing ``out``
    is first moved aside to ``.<name>.old-<pid>``, then removed); when the block raises, the
    temporary folder is removed.

    Whether an existing ``out`` may be replaced is for the caller to decide before.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.out.parent, self.out.name)
        self.path = self.out.with_name(temporary_name(self.out.name))
        self.path.mkdir(mode=0o777)  # the umask decides, as for any folder the user makes

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            for file in sorted(self.path.iterdir()):
                fsync_file(file)
            out = self.out
            if out.exists():
                old = out.with_name(f".{out.name}{OLD_MARK}{os.getpid()}")
                shutil.rmtree(old, ignore_errors=True)
                out.rename(old)
                self.path.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                self.path.rename(out)
            fsync_dir(out.parent)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise


def remove_stale_temporaries(folder: str | Path, name: str | None = None) -> None:
    """Remove the temporaries in ``folder`` (of the target ``name`` only, when given) whose
    writing process no longer exists; a live writer's temporary is left alone."""
    folder = Path(folder)
    pattern = f".{glob.escape(name)}{TMP_MARK}*" if name is not None else f".*{TMP_MARK}*"
    for path in folder.glob(pattern):
        rest = path.name.rpartition(TMP_MARK)[2]
        pid_text = rest.split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


__all__ = ["AtomicFolder", "TMP_MARK", "fsync_dir", "fsync_file", "remove_stale_temporaries",
           "temporary_name", "write_atomic", "write_bytes_atomic", "write_csv_atomic",
           "write_json_atomic", "write_parquet_atomic", "write_text_atomic"]
