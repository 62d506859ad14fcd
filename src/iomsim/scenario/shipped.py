"""The shipped scenarios: their names, and a copy of one (with the shipped scenarios it extends)
in a folder of the user's, to edit as their own.

They live in the repository's ``scenarios/`` folder, which the package holds as
``iomsim/shipped_scenarios`` (pyproject.toml), so that ``iomsim run sussex-2013`` and
``extends: [sussex-2013]`` find them from any folder, installed or not. Parameter libraries
(``extends: [uk-unit-costs]``) are found by name from anywhere, so a copy does not need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iomsim.atomic import write_bytes_atomic
from iomsim.errors import InputError
from iomsim.scenario.loader import (locate_parent, shipped_scenario, shipped_scenario_names,
                                    shipped_scenarios_folder)
from iomsim.scenario.paths import close_match, did_you_mean
from iomsim.scenario.yamlio import read_yaml_file


@dataclass(frozen=True)
class Shipped:
    """One shipped scenario: its name, file, title and what it extends."""

    name: str
    file: Path
    title: str
    extends: tuple[str, ...]


def shipped_scenarios() -> list[Shipped]:
    """Every shipped scenario, by name."""
    out = []
    for name in shipped_scenario_names():
        path = shipped_scenario(name)
        data = read_yaml_file(path).data if path is not None else None
        data = data if isinstance(data, dict) else {}
        title = data.get("name", "")
        title = title.get("value", "") if isinstance(title, dict) else title
        parents = data.get("extends") or []
        parents = [parents] if isinstance(parents, str) else parents
        out.append(Shipped(name, path, str(title), tuple(str(p) for p in parents)))
    return out


def chain(name: str) -> list[Path]:
    """The shipped scenario ``name`` and every shipped scenario it extends (not the parameter
    libraries, which any scenario names from anywhere), the named one first."""
    top = shipped_scenario(name)
    if top is None:
        names = shipped_scenario_names()
        close = close_match(name, names)
        raise InputError(f"no shipped scenario named {name!r}" + (
            did_you_mean(close) if close else f"; shipped: {', '.join(names) or 'none'}"),
            file=name)
    folder = shipped_scenarios_folder()
    files: dict[Path, None] = {}
    todo = [top]
    while todo:
        path = todo.pop(0).resolve()
        if path in files:
            continue
        files[path] = None
        data = read_yaml_file(path).data
        parents = data.get("extends") if isinstance(data, dict) else None
        for parent in [parents] if isinstance(parents, str) else parents or []:
            found = locate_parent(str(parent), path) if isinstance(parent, str) else None
            if found is not None and folder is not None and found.resolve().parent == folder:
                todo.append(found)
    return list(files)


def copy_scenario(name: str, folder: str | Path, *, force: bool = False) -> list[Path]:
    """Copy the shipped scenario ``name`` and the shipped scenarios it extends into ``folder``
    (made if missing), each under its own file name, so that the copy's ``extends:`` finds them
    there; returns the files written, the named scenario first. A file already there is refused
    (nothing is written) unless ``force``."""
    folder = Path(folder)
    sources = chain(name)
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file; expected a folder to copy the scenario into", file=folder)
    targets = [folder / src.name for src in sources]
    if not force:
        taken = [t for t in targets if t.exists()]
        if taken:
            raise InputError(f"already holds {', '.join(t.name for t in taken)}; nothing was "
                             "copied (choose another folder, or --force to replace them)",
                             file=folder)
    folder.mkdir(parents=True, exist_ok=True)
    for src, target in zip(sources, targets):
        write_bytes_atomic(target, src.read_bytes())
    return targets


__all__ = ["Shipped", "chain", "copy_scenario", "shipped_scenarios"]
