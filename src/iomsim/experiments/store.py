"""The sweep folder: one Parquet file per finished point, written atomically, and resumable.

Layout of ``OUT/``::

    sweep.json                 hash of the sweep file and resolved scenario, design, sizes
    points/point-000012.parquet  the tidy rows of point 12 (written to a temporary name, then
                               renamed, so a file that exists is complete)
    results.parquet, summary.csv, ...   the finished tables (written when every point is done)

Running the same sweep again into the same folder computes only the points without a file; a
sweep with a different hash is refused unless ``force``, which clears the folder's sweep files.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from iomsim.atomic import remove_stale_temporaries, write_json_atomic, write_parquet_atomic
from iomsim.errors import ResultsExistError

MANIFEST = "sweep.json"
POINTS = "points"
CSV_FLOAT_FORMAT = "%.10g"  # the sweep folder's CSVs: ten significant digits


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
                 force: bool = False):
        super().__init__()
        self.folder = Path(folder)
        self.points_dir = self.folder / POINTS
        if self.folder.exists() and not self.folder.is_dir():
            raise ResultsExistError(f"{self.folder} is a file, not a folder; choose another --out")
        manifest = self.folder / MANIFEST
        self.resumed = False
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text())
            except (OSError, ValueError):
                old = {}
            if old.get("hash") != sweep_hash:
                if not force:
                    raise ResultsExistError(
                        f"{self.folder} holds results of a different sweep (hash "
                        f"{str(old.get('hash'))[:12]}, this sweep {sweep_hash[:12]}); use --force "
                        "to replace them or choose another --out")
                self.clear()
            else:
                self.resumed = True
        elif self.folder.exists() and any(self.folder.iterdir()):
            if not force:
                raise ResultsExistError(f"{self.folder} is not empty and is not a sweep folder; "
                                        "use --force to write into it or choose another --out")
        self.points_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.points_dir, self.folder):  # left by an interrupted write
            remove_stale_temporaries(folder)
        if not self.resumed:
            write_json_atomic({"hash": sweep_hash, "created": _now(), "complete": False, **info},
                              manifest, sort_keys=True)
        self.manifest = manifest

    def clear(self) -> None:
        if self.points_dir.exists():
            shutil.rmtree(self.points_dir)
        for name in (MANIFEST, *OUTPUT_FILES):
            p = self.folder / name
            if p.exists():
                p.unlink()

    def _path(self, point: int) -> Path:
        return self.points_dir / f"point-{point:06d}.parquet"

    def done(self) -> set[int]:
        out = set()
        for p in self.points_dir.glob("point-*.parquet"):
            try:
                out.add(int(p.stem.split("-", 1)[1]))
            except ValueError:
                continue
        return out

    def write_point(self, point: int, frame: pd.DataFrame) -> None:
        write_parquet_atomic(frame, self._path(point))

    def table(self, n_points: int) -> pd.DataFrame:
        frames = [pd.read_parquet(self._path(p)) for p in range(n_points)]
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


OUTPUT_FILES = ("results.parquet", "summary.csv", "points.csv", "tornado.csv", "psa_samples.csv",
                "psa_summary.csv", "acceptability.csv", "sobol.csv", "morris.csv")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
