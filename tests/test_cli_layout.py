"""The command line lives in iomsim.cli only: the modules that do the work hold no argparse and
add no subcommands, so they can be used from Python without the command line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import iomsim

SRC = Path(iomsim.__file__).resolve().parent
CLI = SRC / "cli"


def _domain_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if CLI not in p.parents)


def test_only_the_cli_package_uses_argparse():
    for path in _domain_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert "argparse" not in names, f"{path.relative_to(SRC)} imports argparse"


def test_only_the_cli_package_defines_commands():
    for path in _domain_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                assert node.name != "register" and not node.name.startswith("cmd_"), \
                    f"{path.relative_to(SRC)} defines {node.name}"


def test_python_dash_m_runs_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "iomsim.cli", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"iomsim {iomsim.__version__}"
    assert proc.stderr == ""
