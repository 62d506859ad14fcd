"""Writing files and folders so that a reader never sees one half-written.

A file is written to a hidden temporary beside it, ``.<name>.tmp-<pid>-<random>``, flushed to
disk, renamed over the target with :func:`os.replace` (atomic on POSIX and Windows within one
file system) and the folder's entry is flushed too. A whole folder is written the same way by
:class:`AtomicFolder`. Whatever stops the writer part way (an exception, Ctrl-C, SIGKILL, a power
cut) leaves the target as it was, plus at most a hidden temporary: an exception removes it at
once, and :func:`remove_stale_temporaries` removes those whose writer is gone.

The temporaries carry the writer's pid so that a later writer can tell an abandoned temporary
from one that a live process is still writing. A folder replaced by :class:`AtomicFolder` is first
moved aside whole (``.<name>.old-<pid>-<random>``) and, once the new one is in place, renamed
``.<name>.del-<pid>-<random>`` before it is removed: so a writer killed between the two renames
leaves the previous folder whole under an ``.old-`` name, which :func:`recover_folder` puts back,
and anything named ``.del-`` is safe to remove.

A write that the machine refuses for want of space (or a quota, a read-only file system, an I/O
error) raises :class:`~iomsim.errors.EnvironmentFault` naming the target, never the temporary.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, Callable, Sequence

from iomsim.errors import EnvironmentFault, InputError

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"
DEL_MARK = ".del-"
# Faults of the machine rather than of the input: no retry or other --out choice fixes them
# except freeing space or repairing the disk.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})
_ERRNO_TEXT = re.compile(r"errno\s*(\d+)", re.IGNORECASE)


def errno_of(exc: BaseException) -> int | None:
    """The errno of an ``OSError``, also when a library (pyarrow) only says it in its message."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    found = _ERRNO_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def environment_fault(exc: BaseException, target: str | Path) -> EnvironmentFault | None:
    """``exc`` as an :class:`EnvironmentFault` about ``target`` when the machine refused the
    write (full disk, quota, read-only, I/O error); ``None`` for any other error."""
    if not isinstance(exc, OSError):
        return None
    code = errno_of(exc)
    if code not in ENVIRONMENT_ERRNOS:
        return None
    return EnvironmentFault(os.strerror(code).lower(), target, code)


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


def refuse_special_file(path: str | Path, shown: str | Path | None = None) -> None:
    """Refuse (:class:`~iomsim.errors.InputError`) a ``path`` that exists and is neither a
    regular file nor a folder: a device (``/dev/full``), a FIFO or a socket. Every file is
    written by renaming a finished temporary over its name, which would replace the device or
    FIFO itself with a regular file (as root, ``/dev/null`` would be gone)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # not there (or not even a name): the write says what is wrong
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = ("a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise InputError(f"is {kind}; iomsim writes a file whole and then moves it into place, "
                     f"which would replace the {kind.removeprefix('a ')} itself: choose the name "
                     "of a regular file", file=shown if shown is not None else path)


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to write a hidden temporary beside ``path``, then move it into place.

    The temporary exists (empty, with the permissions of any new file) before ``write`` is
    called, so ``write`` may open it by name; on any exception it is removed and the exception
    goes on (as :class:`EnvironmentFault` when the machine refused the write). A ``path`` that
    is a symbolic link is written through: the link stays and its target gets the content, as
    a plain ``open(path, "w")`` would do. Returns ``path``.
    """
    shown = Path(path)
    path = Path(os.path.realpath(shown)) if shown.is_symlink() else shown
    refuse_special_file(path, shown)
    tmp = path.with_name(temporary_name(path.name))
    try:
        # O_EXCL: never write through a file someone else made; mode 0o666 lets the umask
        # decide, as for any file the user's programs create.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            write(tmp)
            fsync_file(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
    except OSError as exc:
        fault = environment_fault(exc, shown)
        if fault is None:
            raise
        raise fault from exc
    return shown


def write_files_atomic(files: Sequence[tuple[str | Path, Callable[[Path], object]]]) -> None:
    """Several files together: each ``write(tmp)`` writes a hidden temporary beside its path, and
    only when every one is written and flushed are they renamed into place. A failure part way
    (a full disk) removes the temporaries and leaves every path as it was, so a set of files
    that belong together (a report, its workbook and charts) is never left half new."""
    done: list[tuple[Path, Path, Path]] = []  # (shown, real target, temporary)
    try:
        try:
            for shown, write in files:
                shown = Path(shown)
                path = Path(os.path.realpath(shown)) if shown.is_symlink() else shown
                refuse_special_file(path, shown)
                tmp = path.with_name(temporary_name(path.name))
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                done.append((shown, path, tmp))
                write(tmp)
                fsync_file(tmp)
            for _, path, tmp in done:
                os.replace(tmp, path)
        except OSError as exc:
            fault = environment_fault(exc, done[-1][0] if done else "a file")
            if fault is None:
                raise
            raise fault from exc
    except BaseException:
        for _, _, tmp in done:
            tmp.unlink(missing_ok=True)
        raise
    for folder in {path.parent for _, path, _ in done}:
        fsync_dir(folder)


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
    is first moved aside whole to ``.<name>.old-<pid>-<random>``, then, once the new folder is in
    place, renamed ``.<name>.del-...`` and removed); when the block raises, the temporary folder
    is removed and ``out`` is as it was.

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
                old = out.with_name(f".{out.name}{OLD_MARK}{os.getpid()}-{secrets.token_hex(4)}")
                out.rename(old)
                try:
                    self.path.rename(out)
                except BaseException:
                    old.rename(out)  # the previous folder back, whole
                    raise
                fsync_dir(out.parent)
                doomed = out.with_name(f".{out.name}{DEL_MARK}{os.getpid()}-"
                                       f"{secrets.token_hex(4)}")
                old.rename(doomed)
                shutil.rmtree(doomed, ignore_errors=True)
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


def recover_folder(out: str | Path) -> None:
    """Undo what a writer of the folder ``out`` left when it was killed (SIGKILL, power cut).

    Killed between moving the previous ``out`` aside and moving its new folder in, it left no
    ``out`` and the previous folder whole as ``.<name>.old-<pid>-*``: that is put back, so the
    user has exactly what they had before the interrupted command. Killed later, it left a
    ``.old-`` or ``.del-`` folder beside a new ``out``: that is removed. Temporaries of writers
    that are gone are removed too; a live writer's are left alone.
    """
    out = Path(out)
    folder = out.parent
    if not folder.is_dir():
        return
    name = glob.escape(out.name)
    for mark in (OLD_MARK, DEL_MARK):
        for path in sorted(folder.glob(f".{name}{mark}*")):
            pid = _pid_in(path.name, mark)
            if pid is None or _pid_alive(pid):
                continue
            if mark == OLD_MARK and not out.exists() and not out.is_symlink():
                path.rename(out)
                fsync_dir(folder)
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    remove_stale_temporaries(folder, out.name)


def _pid_in(name: str, mark: str) -> int | None:
    text = name.rpartition(mark)[2].split("-", 1)[0]
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (this process counts as alive)."""
    return _pid_alive(pid)


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


__all__ = ["AtomicFolder", "DEL_MARK", "ENVIRONMENT_ERRNOS", "OLD_MARK", "TMP_MARK",
           "environment_fault", "errno_of", "fsync_dir", "fsync_file", "pid_alive",
           "write_files_atomic",
           "recover_folder", "remove_stale_temporaries", "temporary_name", "write_atomic",
           "write_bytes_atomic", "write_csv_atomic", "write_json_atomic", "write_parquet_atomic",
           "write_text_atomic"]
