"""The sweep folder: one Parquet file per finished point, written atomically, and resumable.

Layout of ``OUT/``::

    .iomsim-folder             says the folder is iomsim's (see iomsim.folders)
    sweep.json                 hash of everything the results depend on, design, sizes
    points/point-000012.parquet  the tidy rows of point 12 (written to a temporary name, then
                               renamed, so a file that exists is complete)
    results.parquet, summary.csv, ...   the finished tables (written when every point is done)

Running the same sweep again into the same folder computes only the points without a file that
reads back (a truncated or garbled one is computed again, and the sweep says so); a sweep with a
different hash is refused unless ``force``, which clears the folder, and only if iomsim wrote
everything in it. The caller holds the folder's lock (:func:`iomsim.folders.hold`) throughout.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from iomsim.atomic import remove_stale_temporaries, write_atomic, write_json_atomic
from iomsim.errors import ResultsExistError
from iomsim.folders import (MARKER, SWEEP_MANIFEST, SWEEP_POINTS, SWEEP_TABLES, check_ours,
                            read_marker, write_marker)

MANIFEST = SWEEP_MANIFEST
POINTS = SWEEP_POINTS
CSV_FLOAT_FORMAT = "%.10g"  # the sweep folder's CSVs: ten significant digits


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class MemoryStore:
    """Keeps points in memory (a sweep run from Python without ``out``)."""

    folder: Path | None = None

    def __init__(self) -> None:
        self.frames: dict[int, pd.DataFrame] = {}

    def done(self) -> set[int]:
        return set(self.frames)

    def write_point(self, point: int, frame: pd.DataFrame) -> None:
        self.frames[point] = frame

    def table(self, n_points: int) -> pd.DataFrame:
        return pd.concat([self.frames[p] for p in range(n_points)], ignore_index=True)


class FolderStore(MemoryStore):
    """A sweep folder on disk (see the module docstring)."""

    def __init__(self, folder: str | Path, sweep_hash: str, info: dict[str, Any],
                 force: bool = False, log: Callable[[str], None] = _to_stderr):
        super().__init__()
        self.hash = sweep_hash
        self.folder = Path(folder)
        self.points_dir = self.folder / POINTS
        self.log = log
        if self.folder.exists() and not self.folder.is_dir():
            raise ResultsExistError(f"{self.folder} is a file, not a folder; choose another --out")
        manifest = self.folder / MANIFEST
        self.resumed = False
        if manifest.exists():
            why = None
            try:
                old = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                old, why = {}, " ".join(str(exc).split())[:120] or type(exc).__name__
            if why is None and not (isinstance(old, dict) and isinstance(old.get("hash"), str)):
                why = "it names no sweep hash"
            if why is not None:
                if not force:  # cut short or damaged: which sweep it held cannot be told
                    raise ResultsExistError(
                        f"{manifest} does not read back ({why}), so which sweep {self.folder} "
                        "holds cannot be told; use --force to replace its results or choose "
                        "another --out")
                check_ours(self.folder)
                self.clear()
            elif old["hash"] != sweep_hash:
                if not force:
                    raise ResultsExistError(
                        f"{self.folder} holds results of a different sweep (hash "
                        f"{str(old.get('hash'))[:12]}, this sweep {sweep_hash[:12]}); use --force "
                        "to replace them or choose another --out")
                check_ours(self.folder)
                self.clear()
            else:
                self.resumed = True
        elif self.folder.exists() and any(self.folder.iterdir()):
            check_ours(self.folder)  # never offer --force for a folder it would refuse
            if not force:
                raise ResultsExistError(f"{self.folder} is not empty and is not a sweep folder; "
                                        "use --force to replace it or choose another --out")
            self.clear()
        self.points_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.points_dir, self.folder):  # left by an interrupted write
            remove_stale_temporaries(folder)
        if not self.resumed or read_marker(self.folder) is None:  # before sweep.json
            write_marker(self.folder, "sweep", hash=sweep_hash)
        if not self.resumed:
            write_json_atomic({"hash": sweep_hash, "created": _now(), "complete": False, **info},
                              manifest, sort_keys=True)
        self.manifest = manifest

    def clear(self) -> None:
        """Remove everything in the folder (:func:`check_ours` has said it is all iomsim's) but
        the marker, so that a clear cut short still leaves a folder that --force may clear."""
        for entry in list(self.folder.iterdir()):
            if entry.name == MARKER:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _path(self, point: int) -> Path:
        return self.points_dir / f"point-{point:06d}.parquet"

    def done(self) -> set[int]:
        """The points with a file that reads back as that point's rows. A file that does not
        (truncated, garbled, another point's) is removed, so that the point is computed again."""
        out = set()
        for p in sorted(self.points_dir.glob("point-*.parquet")):
            try:
                point = int(p.stem.split("-", 1)[1])
            except ValueError:
                continue
            if point not in self.frames:
                frame, problem = _read_point(p, point, self.hash)
                if frame is None:
                    self.log(f"{p} does not read back ({problem}); point {point} will be "
                             "computed again")
                    p.unlink(missing_ok=True)
                    continue
                self.frames[point] = frame
            out.add(point)
        return out

    def write_point(self, point: int, frame: pd.DataFrame) -> None:
        # The file says which sweep and point it holds, so that a point file copied in from
        # another sweep (a valid file, another point's numbers) is never taken for this one's.
        write_atomic(self._path(point), lambda path: _write_point_file(
            frame, path, {SWEEP_KEY: self.hash, POINT_KEY: str(point)}))

    def table(self, n_points: int) -> pd.DataFrame:
        frames = [self.frames[p] if p in self.frames else pd.read_parquet(self._path(p))
                  for p in range(n_points)]
        return pd.concat(frames, ignore_index=True)

    def finish(self, extra: dict[str, Any]) -> None:
        data = json.loads(self.manifest.read_text())
        data.update(extra)
        data["complete"] = True
        data["finished"] = _now()
        write_json_atomic(data, self.manifest, sort_keys=True)

    def is_complete(self) -> bool:
        try:
            return bool(json.loads(self.manifest.read_text()).get("complete"))
        except (OSError, ValueError):
            return False


OUTPUT_FILES = SWEEP_TABLES


# Parquet metadata of a point file: the hash of the sweep and the point it belongs to.
SWEEP_KEY = b"iomsim.sweep_hash"
POINT_KEY = b"iomsim.point"


def _write_point_file(frame: pd.DataFrame, path: Path, metadata: dict[bytes, str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **{k: v.encode() for k, v in metadata.items()}})
    pq.write_table(table, path)


def _read_point(path: Path, point: int, sweep_hash: str) -> tuple[pd.DataFrame | None, str]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        frame = table.to_pandas()
    except Exception as exc:  # pyarrow raises many kinds for a damaged file
        return None, " ".join(str(exc).split())[:120] or type(exc).__name__
    if "point" not in frame.columns or frame.empty or not (frame["point"] == point).all():
        return None, "not the rows of this point"
    metadata = table.schema.metadata or {}
    written_by = metadata.get(SWEEP_KEY, b"").decode(errors="replace")
    if written_by != sweep_hash or metadata.get(POINT_KEY) != str(point).encode():
        if not written_by:
            return None, "it does not say which sweep wrote it"
        return None, (f"written by another sweep (hash {written_by[:12]}, this sweep "
                      f"{sweep_hash[:12]})" if written_by != sweep_hash
                      else "not the rows of this point")
    return frame, ""


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
