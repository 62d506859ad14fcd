"""Hypothesis throws mutated scenarios at the loader and at ``iomsim validate``: whatever the
input, the loader returns a scenario or raises an InputError (one line), and the command line
exits 0 or 2 with no traceback (one line per problem). Never any other exception.

Mutations start from the shipped scenarios (scenarios/*.yaml, read at test time) and the
corpus's minimal scenario: keys deleted or misspelt, values replaced by the wrong type, numbers
made negative, huge, NaN or infinite, junk keys inserted, and the text itself truncated or
spliced with YAML syntax. Examples are bounded and derandomized, so a run takes well under a
minute and is the same on every machine.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iomsim
from iomsim.errors import InputError
from iomsim.scenario.loader import apply_overrides, load_scenario
from tests.support import problem_lines

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "bad_inputs"
sys.path.insert(0, str(CORPUS))

from iomsim_cli_harness import run_cli  # noqa: E402

SOURCES = sorted(ROOT.glob("scenarios/*.yaml")) + [CORPUS / "base" / "minimal.yaml"]

# IOMSIM_FUZZ_SCALE=20 explores twenty times as many examples, with fresh randomness each run
# (for hunting bugs by hand; CI uses the default, derandomized).
SCALE = int(os.environ.get("IOMSIM_FUZZ_SCALE", "1"))
FUZZ = dict(derandomize=SCALE == 1, database=None, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                   HealthCheck.data_too_large, HealthCheck.filter_too_much])

JUNK_VALUES = [None, "", "junk", -1, -1e308, 1e308, 10 ** 30, -(10 ** 30), math.nan, math.inf,
               -math.inf, True, False, [], {}, [1, "two", None], {"x": 1}, {"value": -5},
               {"value": 5, "price_year": "1850-51"}, {"value": 5, "price_year": "2011-12"},
               "85", 85, 0, 0.5, 1.5, "2011-12", "yes", "!!python/object/apply:os.system",
               {"distribution": "normal"}, {"distribution": "weibull", "mean": 1},
               {"distribution": "beta", "mean": 2, "sd": 1}, "../../../../etc/passwd",
               "x" * 5000, "line\nbreak", "\t", "é", {"1": 2}, [[[[[]]]]]]
YAML_JUNK = ["\t", ":", ": ", "- ", "[", "]", "{", "}", "&a ", "*a", "*nope", "!!python/name:os.system ",
             "!include ", "<<: ", "---\n", "...\n", "'", '"', "#", "|", ">", "%YAML 1.1\n",
             "? ", ",", "\n  ", "\n\t", "\x00", "\ufeff", "é", "\u2028", "\r", "\\", "@", "`",
             "extends: [missing]\n", "extends: self.yaml\n"]


def _texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in SOURCES}


TEXTS = _texts()
DATA = {name: yaml.safe_load(text) for name, text in TEXTS.items()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Copies of the shipped scenarios (and the corpus base) to write mutants beside, so that
    relative ``extends:`` and cohort paths resolve as they do for the originals."""
    work = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "scenarios", work / "scenarios")
    shutil.copytree(CORPUS / "base", work / "base")
    shutil.copytree(CORPUS / "csv", work / "csv")
    return work


def _folder_of(name: str, workdir: Path) -> Path:
    return workdir / ("base" if name == "minimal.yaml" else "scenarios")


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def mutated_data(draw) -> tuple[str, Any]:
    """A shipped scenario with one to three structural mutations (junk values are copied, so
    that a later mutation cannot change the shared list of junk)."""
    name = draw(st.sampled_from(sorted(DATA)))
    data = copy.deepcopy(DATA[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        value = parent[key]
        op = draw(st.sampled_from(["delete", "junk", "negate", "huge", "nan", "inf", "percent",
                                   "misspell", "insert", "wrap", "stringify"]))
        if op == "delete":
            del parent[key]
        elif op == "junk":
            parent[key] = copy.deepcopy(draw(st.sampled_from(JUNK_VALUES)))
        elif op in ("negate", "huge", "nan", "inf", "percent") and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            parent[key] = {"negate": -value - 1, "huge": value * 1e300 + 1e300, "nan": math.nan,
                           "inf": -math.inf, "percent": value * 100 + 1}[op]
        elif op == "misspell" and isinstance(parent, dict):
            parent[str(key)[:-1] + "x"] = parent.pop(key)
        elif op == "insert" and isinstance(value, dict):
            value[draw(st.sampled_from(["zzz", "value", "source", "price_year", "extends", "1",
                                        "", "unit"]))] = copy.deepcopy(draw(st.sampled_from(JUNK_VALUES)))
        elif op == "wrap":
            parent[key] = {"value": value, "source": "fuzz"}
        elif op == "stringify":
            parent[key] = str(value)
        else:
            parent[key] = copy.deepcopy(draw(st.sampled_from(JUNK_VALUES)))
    return name, data


@st.composite
def mutated_text(draw) -> tuple[str, str]:
    """A shipped scenario's text, truncated, spliced with YAML syntax, or with lines dropped,
    repeated or re-indented."""
    name = draw(st.sampled_from(sorted(TEXTS)))
    text = TEXTS[name]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "insert", "drop_line", "repeat_line", "indent",
                                   "replace"]))
        lines = text.splitlines(keepends=True)
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            junk = draw(st.sampled_from(YAML_JUNK) | st.text(max_size=8))
            text = text[:at] + junk + text[at:]
        elif op == "replace" and text:
            at = draw(st.integers(0, len(text) - 1))
            text = text[:at] + draw(st.sampled_from(YAML_JUNK)) + text[at + 1:]
        elif lines:
            i = draw(st.integers(0, len(lines) - 1))
            if op == "drop_line":
                del lines[i]
            elif op == "repeat_line":
                lines.insert(i, lines[i])
            else:
                lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
            text = "".join(lines)
    return name, text


def _load_or_refuse(path: Path) -> None:
    try:
        scenario = load_scenario(path)
    except InputError as exc:
        text = str(exc)
        assert "\n" not in text and text.strip(), repr(text)
        assert exc.file, f"error names no file: {text}"
        return
    assert isinstance(scenario, iomsim.Scenario)


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:  # e.g. a key that YAML cannot write; not what is being tested
        return yaml.safe_dump({"name": "unwritable mutant"})


@settings(max_examples=120 * SCALE, **FUZZ)
@given(mutant=mutated_data())
def test_structurally_mutated_scenarios_are_loaded_or_refused(mutant, workdir):
    name, data = mutant
    path = _folder_of(name, workdir) / "_fuzz_data.yaml"
    path.write_text(_dump(data), encoding="utf-8")
    _load_or_refuse(path)


@settings(max_examples=120 * SCALE, **FUZZ)
@given(mutant=mutated_text())
def test_textually_mutated_scenarios_are_loaded_or_refused(mutant, workdir):
    name, text = mutant
    path = _folder_of(name, workdir) / "_fuzz_text.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _load_or_refuse(path)


@settings(max_examples=30 * SCALE, **FUZZ)
@given(mutant=st.one_of(mutated_text(), mutated_data().map(lambda m: (m[0], _dump(m[1])))))
def test_validate_on_the_command_line_exits_0_or_2_without_traceback(mutant, workdir):
    name, text = mutant
    folder = _folder_of(name, workdir)
    path = folder / "_fuzz_cli.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    result = run_cli(["validate", path.name], folder)
    assert "Traceback" not in result.err, result.err
    assert result.code in (0, 2), (result.code, result.err)
    if result.code == 2:
        problem_lines(result.err)  # one line per problem, each "error: ..."
        assert path.name in result.err or "extends" in result.err or ".yaml" in result.err, \
            result.err


# ------------------------------------------------------------------ --set overrides

PATH_PARTS = ["justice", "arrest_cost", "cohort", "size", "iom", "offender_managers", "[0]",
              "[9]", "[x]", "[", "]", "share", "effects", "offending_multiplier", "services",
              "gp", "new_service", "agency", "", " ", "..", "limits", "max_offenders", "needs",
              "drugs", "profile", "status", "custody", "selection", "cohort_size", "zzz", "é"]
VALUE_TEXTS = ["1", "-1", "0", "85", ".nan", ".inf", "-.inf", "yes", "null", "", "[1", "{a: 1}",
               "[]", "{}", "abc", "1e400", "2000000", "!!python/object/apply:os.system [ls]",
               "&a [*a]", "*a", "'", "0.5", "\t", "[1, 2, 3]", "{value: 3, source: x}"]


@st.composite
def override_item(draw) -> str:
    parts = draw(st.lists(st.sampled_from(PATH_PARTS), min_size=1, max_size=5))
    dotted = ""
    for p in parts:
        dotted += p if (p.startswith("[") or not dotted) else "." + p
    value = draw(st.sampled_from(VALUE_TEXTS) | st.text(max_size=10))
    sep = draw(st.sampled_from(["=", "=", "=", "", "=="]))
    return f"{dotted}{sep}{value}"


@pytest.fixture(scope="module")
def minimal_scenario():
    return load_scenario(CORPUS / "base" / "minimal.yaml")


@settings(max_examples=150 * SCALE, **FUZZ)
@given(items=st.lists(override_item(), min_size=1, max_size=3))
def test_fuzzed_overrides_apply_or_are_refused_and_leave_the_scenario_untouched(
        items, minimal_scenario):
    before = minimal_scenario.model_dump()
    try:
        result = apply_overrides(minimal_scenario, items)
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(result, iomsim.Scenario)
    assert minimal_scenario.model_dump() == before


# ------------------------------------------------------------------ cohort CSV

CSV_CELLS = ["A1", "30", "0.5", "", "nan", "inf", "-1", "72", "male", "female", "x", "licence",
             "custody", "1", "0", "2", '"', '"a,b"', "\t", "é", "1e400", "\x00", " "]
CSV_HEADERS = ["id", "age", "ogrs", "sex", "status", "status_days_remaining", "frailty",
               "need_drugs", "colour", "", "id"]


@st.composite
def cohort_csv(draw) -> str:
    header = draw(st.lists(st.sampled_from(CSV_HEADERS), min_size=0, max_size=6))
    rows = draw(st.lists(st.lists(st.sampled_from(CSV_CELLS), max_size=7), max_size=5))
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    if draw(st.booleans()):
        text = text[:draw(st.integers(0, len(text)))]
    return text


@settings(max_examples=150 * SCALE, **FUZZ)
@given(text=cohort_csv())
def test_fuzzed_cohort_csv_is_read_or_refused(text, workdir):
    (workdir / "base" / "fuzz.csv").write_bytes(text.encode("utf-8", errors="surrogatepass"))
    path = workdir / "base" / "_fuzz_csv.yaml"
    path.write_text("extends: minimal.yaml\nselection: {cohort_size: 1}\n"
                    "cohort: {size: null, profile: null, from_csv: fuzz.csv}\n")
    _load_or_refuse(path)
