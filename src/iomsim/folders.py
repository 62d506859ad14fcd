"""Output folders: which are iomsim's, and which iomsim process is writing one now.

**Ownership.** A results folder (``iomsim run``) and a sweep folder (``iomsim sweep``) hold a
marker, :data:`MARKER`, saying that iomsim wrote them, what kind they are and which run made
them. ``--force`` (and ``force=True`` in Python) replaces or clears only a folder that is empty,
or that has the marker or is a results folder written before the marker existed (its manifest
and every table) or a sweep folder likewise (its ``sweep.json``), and then only when everything in
it is a file iomsim writes there: a thesis or a scenario saved in it is never deleted.

**Locks.** Whoever writes an output folder holds ``.<name>.lock`` beside it (in its parent, so
that the lock outlives the folder being replaced): a JSON file with the holder's pid, host and
start time. A second writer of the same folder is refused at once with who holds it. On POSIX the
file is also locked with ``flock``, which the kernel releases when the holder dies however it
dies, so a lock file left by a killed writer never blocks anyone; where ``flock`` is not
available the lock is broken when its holder is on this host and no longer exists.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from iomsim.atomic import (DEL_MARK, OLD_MARK, TMP_MARK, environment_fault, pid_alive,
                           write_json_atomic)
from iomsim.errors import FolderBusy, InputError, NotOurs, one_line
from iomsim.results_folder import (CHARTS, MANIFEST, MARKER, OPTIONAL_FILES, REPORT,
                                   RESULT_FILES, TABLES, WORKBOOK)

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".lock"

# The sweep folder's names (iomsim.experiments.store writes them).
SWEEP_MANIFEST = "sweep.json"
SWEEP_POINTS = "points"
SWEEP_TABLES = ("results.parquet", "summary.csv", "points.csv", "tornado.csv", "psa_samples.csv",
                "psa_summary.csv", "acceptability.csv", "sobol.csv", "morris.csv")
POINT_FILE = re.compile(r"point-\d+\.parquet")

# Every name iomsim writes directly in an output folder of either kind.
OUR_NAMES = frozenset({MARKER, *RESULT_FILES, *OPTIONAL_FILES, REPORT, WORKBOOK, *CHARTS.values(),
                       SWEEP_MANIFEST, SWEEP_POINTS, *SWEEP_TABLES})


# --------------------------------------------------------------------------- the marker

def write_marker(folder: str | Path, kind: str, **extra: Any) -> Path:
    """Mark ``folder`` as an iomsim folder of ``kind`` (``results`` or ``sweep``)."""
    return write_json_atomic({"iomsim": kind, "run": uuid.uuid4().hex, "created": _now(),
                              "host": socket.gethostname(), "pid": os.getpid(), **extra},
                             Path(folder) / MARKER, sort_keys=True)


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The folder's marker, or ``None`` when it has none (or one that does not read back)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("iomsim"), str) else None


def _is_ours(name: str) -> bool:
    if name in OUR_NAMES:
        return True
    # Hidden temporaries of iomsim's atomic writes, e.g. `.point-000003.parquet.tmp-123-ab12cd34`.
    return name.startswith(".") and any(m in name for m in (TMP_MARK, OLD_MARK, DEL_MARK))


def foreign_entries(folder: str | Path) -> list[str]:
    """The names in ``folder`` (and its ``points/``) that iomsim does not write there."""
    folder = Path(folder)
    out = []
    for entry in sorted(folder.iterdir()):
        if not _is_ours(entry.name):
            out.append(entry.name + ("/" if entry.is_dir() else ""))
        elif entry.name == SWEEP_POINTS:
            if not entry.is_dir() or entry.is_symlink():
                out.append(entry.name)
                continue
            for sub in sorted(entry.iterdir()):
                if not (POINT_FILE.fullmatch(sub.name) or _is_ours(sub.name)) or sub.is_dir():
                    out.append(f"{SWEEP_POINTS}/{sub.name}")
    return out


def is_legacy_folder(folder: str | Path) -> bool:
    """A results folder written before the marker existed (its manifest and every table), or a
    sweep folder likewise (its sweep.json)."""
    folder = Path(folder)
    if (folder / SWEEP_MANIFEST).is_file():
        return True
    return (folder / MANIFEST).is_file() and all((folder / t.file).is_file() for t in TABLES)


def check_ours(folder: str | Path, shown: str | Path | None = None) -> None:
    """Raise :class:`NotOurs` unless ``--force`` may replace or clear ``folder``: it is empty, or
    it is an iomsim folder (marked, or written before the marker) holding only iomsim's files."""
    folder = Path(folder)
    shown = folder if shown is None else Path(shown)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    foreign = foreign_entries(folder)
    ours = read_marker(folder) is not None or is_legacy_folder(folder)
    if ours and not foreign:
        return
    listed = _listing(foreign or [p.name for p in sorted(folder.iterdir())])
    if ours:
        raise NotOurs(f"{shown} holds files iomsim did not write ({listed}); --force replaces "
                      "only what iomsim wrote: move them away or choose another --out")
    raise NotOurs(f"{shown} is not a folder iomsim wrote (it holds {listed}); --force replaces "
                  "only iomsim's folders: choose another --out")


def _listing(names: list[str], most: int = 3) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


# --------------------------------------------------------------------------- the lock

def real_target(out: str | Path) -> Path:
    """Where ``out`` is written: a symbolic link is followed (the link stays; its target gets the
    results), so two names of one folder share its lock."""
    out = Path(out)
    return Path(os.path.realpath(out)) if out.is_symlink() else Path(os.path.abspath(out))


def lock_path(out: str | Path) -> Path:
    target = real_target(out)
    if not target.name:  # "/" (or a link to it): no folder beside it for the lock
        raise InputError("is the root of the file system; iomsim writes a folder beside its "
                         "lock and temporaries, so it needs a folder inside another: choose one "
                         "(a new name is created)", file=out)
    return target.with_name(f".{target.name}{LOCK_SUFFIX}")


# Locks this process holds, so that a command holding one may call an API that takes it again.
_HELD: dict[Path, list] = {}


@contextmanager
def hold(out: str | Path, kind: str) -> Iterator[Path]:
    """Hold the lock of output folder ``out`` for the block; :class:`FolderBusy` if another live
    process holds it. Creates ``out``'s missing parents, and removes those it created if they
    are still empty when the block ends."""
    path = lock_path(out)
    if path in _HELD:
        _HELD[path][1] += 1
        try:
            yield path
        finally:
            _HELD[path][1] -= 1
        return
    created = _make_parents(path.parent, shown=Path(out))
    try:
        fd = _acquire(path, kind, shown=Path(out))
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[path] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[path]
        _release(path, fd)
        _remove_empty(created)


def _make_parents(folder: Path, shown: Path) -> list[Path]:
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_problem(exc, shown, "cannot create the folder for it") from None
    return missing


def _remove_empty(created: list[Path]) -> None:
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def _acquire(path: Path, kind: str, shown: Path) -> int:
    info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "kind": kind,
                       "started": _now()}).encode()
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL), 0o666)
        except FileExistsError:  # no flock: an exclusive create is the lock
            if _holder_gone(path):
                path.unlink(missing_ok=True)
                continue
            raise _busy(path, shown) from None
        except OSError as exc:
            raise _os_problem(exc, shown, "cannot write its lock file here") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _busy(path, shown) from None
            except OSError:  # a file system without flock: fall back on the pid in the file
                os.close(fd)
                if _holder_gone(path, grace=False):
                    path.unlink(missing_ok=True)
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
                else:
                    raise _busy(path, shown) from None
            else:
                # The holder before us unlinks the file as it lets go: if the file we locked is
                # no longer the one at the path, someone else may lock that one; start again.
                try:
                    same = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, info)
        except OSError as exc:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise _os_problem(exc, shown, "cannot write its lock file here") from None
        return fd


def _release(path: Path, fd: int) -> None:
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def _holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _holder_gone(path: Path, grace: bool = True) -> bool:
    """Without flock: the holder is dead if it was on this host and its pid is gone. A lock file
    that does not read back is taken as a holder still writing it, for a minute."""
    data = _holder(path)
    if not data:
        try:
            return not grace or time.time() - path.stat().st_mtime > 60
        except OSError:
            return True
    pid = data.get("pid")
    return (data.get("host") == socket.gethostname() and isinstance(pid, int)
            and not pid_alive(pid))


def _busy(path: Path, shown: Path) -> FolderBusy:
    data = _holder(path)
    who = "another iomsim process"
    if data.get("pid"):
        who += f" (pid {data['pid']} on {data.get('host', '?')}, since {data.get('started', '?')})"
    return FolderBusy(f"{shown} is being written by {who}; wait for it to finish or choose "
                      f"another --out")


def _os_problem(exc: OSError, shown: Path, what: str) -> Exception:
    fault = environment_fault(exc, shown)
    if fault is not None:
        return fault
    return InputError(f"{what} ({one_line(exc.strerror or exc)})", file=shown)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["MARKER", "OUR_NAMES", "SWEEP_MANIFEST", "SWEEP_POINTS", "SWEEP_TABLES",
           "check_ours", "foreign_entries", "hold", "is_legacy_folder", "lock_path",
           "read_marker", "real_target", "write_marker"]
