"""Helpers shared by test modules (import as ``tests.support``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests" / "scenarios" / "minimal.yaml"


def load_minimal(overrides: dict | None = None, **kw):
    """The minimal test scenario with dotted-path overrides."""
    import iomsim

    merged = dict(overrides or {})
    merged.update(kw)
    return iomsim.load_scenario(MINIMAL, overrides=merged)


def pool_workers(pid: int) -> list[int]:
    """The spawned multiprocessing workers among the children of process ``pid`` (Linux)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    out = []
    for c in children:
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(int(c))
        except OSError:
            continue
    return out
