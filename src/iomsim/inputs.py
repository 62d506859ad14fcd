"""The files a scenario's numbers come from: the scenario file, every file of its ``extends:``
chain (parameter libraries included) and the cohort CSV it reads.

Two uses: a sweep's hash holds the content of each, so that a sweep folder is never resumed after
one of them changed; and a command writing a file (``calibrate --out``) refuses to overwrite one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from iomsim.errors import InputError
from iomsim.scenario.cohort_csv import cohort_csv_path
from iomsim.scenario.loader import locate_parent
from iomsim.scenario.yamlio import read_yaml_file


def scenario_files(scenario: Any) -> list[Path]:
    """Every file ``scenario`` was read from, resolved, the scenario's own first."""
    meta = getattr(scenario, "meta", None)
    if meta is None:
        return []
    found: dict[Path, None] = {}  # ordered: a hash of their contents must not depend on a set
    _walk(Path(meta.file), found)
    # A scenario given as text has no file to start from; its extends: chain still left its
    # files as the origins of the values they set.
    # Hundreds of values come from a dozen files: each file once.
    for file in dict.fromkeys(file for file, _line in meta.origins.values()):
        if file != "--set":
            _walk(Path(file), found)
    if getattr(scenario.cohort, "from_csv", None):
        try:
            found.setdefault(cohort_csv_path(scenario).resolve())
        except InputError:  # the loader has already said what is wrong with it
            pass
    return list(found)


def _walk(path: Path, found: dict[Path, None]) -> None:
    try:
        if not path.is_file():
            return
        real = path.resolve()
    except (OSError, ValueError):
        return
    if real in found:
        return
    found[real] = None
    for name in _extends(path, real):
        # As the loader finds them: a path (relative to the file), a shipped library or a
        # shipped scenario.
        parent = locate_parent(name, path)
        if parent is not None:
            _walk(parent, found)


# The extends: names of each file read, by (file, modification time, size): parsing the YAML
# of a scenario's dozen files again was 0.4 s of every sweep's start.
_EXTENDS: dict[tuple[Path, int, int], tuple[str, ...]] = {}


def _extends(path: Path, real: Path) -> tuple[str, ...]:
    try:
        st = real.stat()
    except OSError:
        return ()
    key = (real, st.st_mtime_ns, st.st_size)
    hit = _EXTENDS.get(key)
    if hit is None:
        try:
            data = read_yaml_file(path).data
        except InputError:
            return ()
        parents = data.get("extends") if isinstance(data, dict) else None
        hit = tuple(n for n in ([parents] if isinstance(parents, str) else parents or [])
                    if isinstance(n, str))
        if len(_EXTENDS) > 256:
            _EXTENDS.clear()
        _EXTENDS[key] = hit
    return hit


def file_digests(scenario: Any) -> dict[str, str]:
    """SHA-256 of the content of each of :func:`scenario_files`, keyed by path (each file has
    passed its size limit when it was read; it is hashed a block at a time all the same)."""
    return {str(p): _digest(p) for p in scenario_files(scenario)}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (through links, hard links and ``..`` alike)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except (OSError, ValueError):
        return False


__all__ = ["file_digests", "same_file", "scenario_files"]
