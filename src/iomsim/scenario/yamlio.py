"""Safe YAML reading that remembers where every value came from.

PyYAML's ``SafeLoader`` builds no Python objects beyond plain data; on top of it this module
refuses duplicate keys, non-standard tags, alias expansion beyond a budget ("billion laughs"),
oversized files, files that are not regular files and binary data, and returns a map from each
dotted YAML path to its line.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iomsim.errors import ScenarioError
from iomsim.scenario.paths import join as join_path

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 200_000
MAX_DEPTH = 64
# Characters of text (keys and text values) after aliases are expanded. A file without aliases
# holds at most MAX_FILE_BYTES; aliases may repeat text, but not without limit: one long text
# repeated under a free-text key would otherwise go into every manifest gigabytes at a time.
MAX_TEXT_CHARS = 10_000_000

_STANDARD_TAGS = {
    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
}


class _DepthError(Exception):
    def __init__(self, mark):
        self.mark = mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses nesting deeper than MAX_DEPTH (PyYAML composes recursively, so a
    file of 100,000 ``[`` would otherwise exhaust the stack)."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _DepthError(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass
class YamlDocument:
    """Plain data read from one YAML source, with the line of every path in it."""

    data: Any
    file: str
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """Line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""


def read_yaml_file(path: str | Path) -> YamlDocument:
    """Read a YAML file safely; every failure is a one-line :class:`ScenarioError`.

    Only a regular file is read (a FIFO would block and a device such as /dev/zero never ends),
    and never more than one byte beyond the size limit."""
    path = Path(path)
    try:
        kind = _file_kind(os.stat(path).st_mode)
        if kind is not None:
            raise ScenarioError(f"is {kind}, expected a regular YAML file", file=path)
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, opening it does
        # not wait for a writer (fstat below then refuses it).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            kind = _file_kind(os.fstat(fh.fileno()).st_mode)
            if kind is not None:
                raise ScenarioError(f"is {kind}, expected a regular YAML file", file=path)
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError("file not found", file=path) from None
    except IsADirectoryError:
        raise ScenarioError("is a folder, expected a YAML file", file=path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot be read ({exc.strerror or exc})", file=path) from None
    except ValueError as exc:  # e.g. a NUL character in the name
        raise ScenarioError(f"not a usable file name ({exc})", file=path) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"file is larger than a scenario may be: more than the "
                            f"{MAX_FILE_BYTES:,} allowed bytes (reading stopped there)",
                            file=path)
    return read_yaml_text(raw, file=str(path))


def _file_kind(mode: int) -> str | None:
    """What a file that is not a regular file is (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_yaml_text(raw: bytes | str, *, file: str = "<string>") -> YamlDocument:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"file is {len(raw):,} bytes, more than the {MAX_FILE_BYTES:,} allowed "
                            "for a scenario", file=file)
    if b"\x00" in raw:
        raise ScenarioError("binary data (a NUL byte), expected a UTF-8 YAML text file", file=file,
                            line=raw.count(b"\n", 0, raw.index(b"\x00")) + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not UTF-8 text (byte {exc.start}), expected a UTF-8 YAML file",
                            file=file, line=raw.count(b"\n", 0, exc.start) + 1) from None
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks every character, so inside the try
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise ScenarioError(f"the control character U+{ord(char):04X} is not allowed in YAML; "
                            "expected printable text", file=file,
                            line=text.count("\n", 0, max(exc.position, 0)) + 1) from None
    except _DepthError as exc:
        raise ScenarioError(f"values nested more than {MAX_DEPTH} levels deep; expected a "
                            "plain scenario", file=file, line=exc.mark.line + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        lines = text.splitlines()
        bad_line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
        if "\t" in bad_line or "tab" in problem.lower():
            problem = "a tab character; YAML indentation must use spaces"
        elif exc.context and exc.context_mark is not None and mark is not None \
                and exc.context_mark.line != mark.line:
            problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        raise ScenarioError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"malformed YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    doc = YamlDocument(data=None, file=file)
    if node is None:
        return doc
    budget = [MAX_NODES, MAX_TEXT_CHARS]
    doc.data = _build(node, "", doc, loader, budget)
    return doc


def _build(node: yaml.Node, path: str, doc: YamlDocument, loader: yaml.SafeLoader,
           budget: list[int], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:  # aliases inside aliases can nest deeper than the text does
        key_path = _key_path(path)
        raise ScenarioError(f"values nested more than {MAX_DEPTH} levels deep (through "
                            "aliases); expected a plain scenario", file=doc.file,
                            line=doc.line_of(key_path), path=key_path or None)
    budget[0] -= 1
    if budget[0] < 0:
        key_path = _key_path(path)
        raise ScenarioError(f"more than {MAX_NODES:,} values after expanding aliases "
                            "(an alias bomb?); expected a plain scenario", file=doc.file,
                            line=doc.line_of(key_path), path=key_path or None)
    line = node.start_mark.line + 1
    doc.lines.setdefault(path, line)
    if node.tag not in _STANDARD_TAGS:
        raise ScenarioError(f"YAML tag {node.tag!r} is not allowed; expected plain data "
                            "(mappings, lists, numbers, text)", file=doc.file, line=line,
                            path=path or None)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ScenarioError("merge keys (<<) are not supported; write the values out or "
                                    "use extends:", file=doc.file,
                                    line=key_node.start_mark.line + 1, path=path or None)
            if not isinstance(key_node, yaml.ScalarNode):
                raise ScenarioError("a mapping key must be plain text", file=doc.file,
                                    line=key_node.start_mark.line + 1, path=path or None)
            key = _scalar(key_node, path, doc, loader)
            if not isinstance(key, str):
                key = str(key)
            child = join_path(path, key)
            _spend_text(len(key), child, doc, budget)
            if key in out:
                raise ScenarioError(f"duplicate key {key!r} (first on line {doc.lines[child]})",
                                    file=doc.file, line=key_node.start_mark.line + 1,
                                    path=child)
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, doc, loader, budget, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, join_path(path, i), doc, loader, budget, depth + 1)
                for i, item in enumerate(node.value)]
    value = _scalar(node, path, doc, loader)
    _spend_text(len(value) if isinstance(value, str) else 0, path, doc, budget)
    return value


def _spend_text(chars: int, path: str, doc: YamlDocument, budget: list[int]) -> None:
    budget[1] -= chars
    if budget[1] < 0:
        key_path = _key_path(path)
        raise ScenarioError(f"more than {MAX_TEXT_CHARS:,} characters of text after expanding "
                            "aliases (text repeated through aliases?); expected a plain "
                            "scenario", file=doc.file, line=doc.line_of(key_path),
                            path=key_path or None)


def _key_path(path: str) -> str:
    """``path`` without its trailing list indexes: inside an alias a node's own line is the
    anchor's, so errors there are reported at the key that used the alias."""
    while path.endswith("]"):
        path = path[:path.rfind("[")]
    return path


def _scalar(node: yaml.Node, path: str, doc: YamlDocument, loader: yaml.SafeLoader) -> Any:
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"bad value: {getattr(exc, 'problem', exc)}", file=doc.file,
                            line=node.start_mark.line + 1, path=path or None) from None
    # Dates are kept as ISO text so that every value is plain JSON-compatible data.
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    return value
