"""``iomsim scenarios list`` and ``iomsim scenarios copy NAME FOLDER``: the shipped scenarios,
and a copy of one to start a scenario of one's own from."""

from __future__ import annotations

import argparse
from pathlib import Path

from iomsim.errors import one_line


def register(subparsers) -> None:
    """Add the ``scenarios`` subcommand (``list``, ``copy``) to the ``iomsim`` command line."""
    from iomsim.cli.common import Parser

    p = subparsers.add_parser(
        "scenarios", help="list the shipped scenarios, or copy one into a folder to edit",
        description="The shipped scenarios can be named from any folder (iomsim run "
                    "sussex-2013; extends: [sussex-2013]). `copy` writes one, with the shipped "
                    "scenarios it extends, into a folder of yours to edit.")
    sub = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    q = sub.add_parser("list", help="the shipped scenarios by name")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("copy", help="copy a shipped scenario (and what it extends) into FOLDER")
    q.add_argument("name", metavar="NAME", help="a shipped scenario, e.g. sussex-2013")
    q.add_argument("folder", type=Path, metavar="FOLDER")
    q.add_argument("--force", action="store_true", help="replace files of the same name")
    q.set_defaults(func=cmd_copy, elsewhere="choose another folder")


def cmd_list(args: argparse.Namespace) -> int:
    from iomsim.scenario.shipped import shipped_scenarios

    rows = shipped_scenarios()
    width = max((len(r.name) for r in rows), default=0)
    for r in rows:
        print(f"{r.name:<{width}}  {one_line(r.title)}")
    if rows:
        print(f"\nfrom {one_line(rows[0].file.parent)}; run one by name (iomsim run {rows[0].name}) "
              f"or copy it to edit (iomsim scenarios copy {rows[0].name} FOLDER)")
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    from iomsim import load_scenario
    from iomsim.scenario.shipped import copy_scenario

    written = copy_scenario(args.name, args.folder, force=args.force)
    top = written[0]
    load_scenario(top)  # the copy is valid where it is (its extends: found beside it)
    print(f"Copied {', '.join(one_line(p.name) for p in written)} into {one_line(args.folder)}/")
    # The copies are the shipped files (a calibrated one says not to edit it): the user's own
    # changes go in a file of theirs that extends the copy (README, "Writing your own scenario").
    print(f"Write your own scenario beside them, starting with extends: [{one_line(top.name)}] and "
          f"the keys you change, then: iomsim validate YOUR-FILE.yaml")
    return 0
