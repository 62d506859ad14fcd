"""`iomsim report` and write_report: one self-contained, escaped report.html, the workbook, PNGs."""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from openpyxl import load_workbook  # noqa: E402

import iomsim  # noqa: E402
from iomsim.errors import InputError  # noqa: E402
from iomsim.reporting.report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert(1)</script>"
TABLE_FILES = {"costs": "costs.parquet", "costs_by_agency": "costs_by_agency.csv",
               "outcomes": "outcomes.csv", "economics": "economics.csv",
               "survival": "survival.csv", "population": "population.csv"}
CHARTS = ["agency_cost_shares.png", "offender_year_by_agency.png", "cumulative_cost.png",
          "who_pays_who_saves.png", "reconviction.png",
          "decomposition.png"]  # the run below has 24 months on each side of day 0


@pytest.fixture(scope="session")
def hostile_results(tmp_path_factory) -> Path:
    """A tiny real run of a scenario whose text tries to inject markup, script and a formula."""
    folder = tmp_path_factory.mktemp("report")
    scenario_file = folder / "hostile.yaml"
    sussex = (ROOT / "scenarios" / "sussex-2013.yaml").as_posix()
    scenario_file.write_text(
        f"extends: {sussex}\n"
        f"name: \"=1+1 Hostile {SCRIPT}\"\n"
        f"description: \"Tries {SCRIPT} and <b>bold</b> & more\"\n"
        "discount_rate: {value: 0.035, source: \"<img src=x onerror=alert(2)>\"}\n")
    scenario = iomsim.load_scenario(scenario_file, overrides={
        "cohort.size": 300, "selection.cohort_size": 40, "horizon_years": 2})
    results = iomsim.run(scenario, reps=2, seed=1, jobs=1)
    out = results.write(folder / "run")
    write_report(out)
    return out


@pytest.fixture(scope="session")
def html(hostile_results) -> str:
    return (hostile_results / "report.html").read_text(encoding="utf-8")


def _economic(folder: Path, metric: str) -> float:
    e = pd.read_csv(folder / "economics.csv")
    return float(e.loc[e["metric"] == metric, "value"].iloc[0])


def _outcome(folder: Path, arm: str, metric: str) -> float:
    o = pd.read_csv(folder / "outcomes.csv")
    return float(o.loc[(o["arm"] == arm) & (o["metric"] == metric), "value"].iloc[0])


def _pounds(x: float, places: int = 0) -> str:
    return ("−" if x < 0 else "") + f"£{abs(x):,.{places}f}"


def test_scenario_text_is_escaped_never_raw(html):
    assert "Hostile &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Tries &lt;script&gt;alert(1)&lt;/script&gt; and &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # a source, in the assumptions table
    assert "<script" not in html.lower()
    assert "<b>bold" not in html
    assert "<img src=x" not in html


def test_report_is_self_contained(html):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html.lower()
    assert "@import" not in html
    assert "Content-Security-Policy" in html


def test_headline_figures(hostile_results, html):
    bpp = _economic(hostile_results, "benefit_per_pound")
    assert f"{_pounds(bpp, 2)}</div>" in html
    assert _pounds(_economic(hostile_results, "iom_cost")) in html
    assert _pounds(_economic(hostile_results, "npv")) in html
    before = _outcome(hostile_results, "iom", "reconviction_rate_24m_before")
    after = _outcome(hostile_results, "iom", "reconviction_rate_24m")
    assert f"{before * 100:.0f}% → {after * 100:.0f}%" in html
    for label in ("Benefit per £1 spent on IOM, as the evaluation counted it",
                  "Benefit per £1 spent on IOM, to the taxpayer",
                  "Benefit per £1 spent on IOM, to society", "IOM spend (discounted)",
                  "Net present value", "Reconvicted within 24 months"):
        assert label in html


def test_tables_and_assumptions_are_in_the_report(hostile_results, html):
    cba = pd.read_csv(hostile_results / "costs_by_agency.csv")
    police = cba[(cba["arm"] == "non_iom") & (cba["agency"] == "police")]["cost"].iloc[0]
    assert _pounds(police) in html  # thousands separators
    assert re.search(r"£\d{4,}", html) is None  # never £ and four digits without a separator
    for heading in ("The scenario in plain words", "Headline figures", "Cost by agency",
                    "Economics", "Outcomes", "Assumptions and their sources",
                    "Validation caveats"):
        assert heading in html
    assert "docs/validation.md" in html
    # provenance: a sourced value and an assumption from the Sussex scenario
    assert "selection.<wbr>cohort_size" in html and "Wong et al. 2013" in html
    assert "uk-unit-costs.md" in html


def test_every_chart_is_embedded_and_written_beside_the_report(hostile_results, html):
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == len(CHARTS)
    files = {(hostile_results / name).read_bytes() for name in CHARTS}
    assert {base64.b64decode(data) for data in embedded} == files
    for data in files:
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    for title in ("Agency cost shares", "Who pays and who saves", "Reconviction",
                  "Cumulative cost by year", "cost by agency"):
        assert title in html


def test_workbook_has_one_sheet_per_table(hostile_results):
    wb = load_workbook(hostile_results / "results.xlsx", read_only=True)
    for sheet, filename in TABLE_FILES.items():
        assert sheet in wb.sheetnames
        path = hostile_results / filename
        table = pd.read_parquet(path) if filename.endswith(".parquet") else pd.read_csv(path)
        rows = list(wb[sheet].iter_rows(values_only=True))
        assert list(rows[0]) == list(table.columns)
        assert len(rows) - 1 == len(table)
        first = [None if (isinstance(v, float) and math.isnan(v)) else v
                 for v in table.iloc[0].tolist()]
        for got, want in zip(rows[1], first):
            assert got == (pytest.approx(want) if isinstance(want, float) else want)


def test_workbook_never_turns_scenario_text_into_a_formula(hostile_results):
    wb = load_workbook(hostile_results / "results.xlsx")  # not read-only: keeps data types
    about = {row[0].value: row[1] for row in wb["about"].iter_rows()}
    cell = about["scenario"]
    assert cell.value.startswith("=1+1 Hostile")
    assert cell.data_type == "s"


def test_workbook_shows_money_with_thousands_separators(hostile_results):
    wb = load_workbook(hostile_results / "results.xlsx")
    ws = wb["costs_by_agency"]
    header = [c.value for c in ws[1]]
    police = ws[2]
    assert "£" in police[header.index("cost")].number_format
    assert "#,##0" in police[header.index("cost")].number_format
    assert police[header.index("share")].number_format == "0.0%"


def test_not_a_results_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a results folder") as err:
        write_report(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="no such results folder"):
        write_report(tmp_path / "missing")


def test_missing_or_broken_table_names_the_file(hostile_results, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(hostile_results, broken)
    (broken / "survival.csv").unlink()
    with pytest.raises(InputError) as err:
        write_report(broken)
    assert "survival.csv" in str(err.value)
    (broken / "survival.csv").write_text("nothing,useful\n1,2\n")
    with pytest.raises(InputError, match="survival.csv has no column"):
        write_report(broken)


def test_a_manifest_cut_short_says_so_at_its_line(hostile_results, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(hostile_results, cut)
    text = (cut / "manifest.json").read_text(encoding="utf-8")
    (cut / "manifest.json").write_text(text[:len(text) // 2], encoding="utf-8")
    with pytest.raises(InputError) as err:
        write_report(cut)
    message = str(err.value)
    assert "manifest.json:" in message and "not valid JSON from column" in message
    assert "cut short" in message and "run the command that wrote this folder again" in message
    assert 1 <= err.value.line <= text[:len(text) // 2].count("\n") + 1  # where it broke
    assert "\n" not in message and "char " not in message  # (not the parser's own words)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iomsim.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_report(hostile_results, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(hostile_results, folder)
    for name in ["report.html", "results.xlsx", *CHARTS]:
        (folder / name).unlink()
    done = _cli("report", str(folder))
    assert done.returncode == 0, done.stderr
    for name in ["report.html", "results.xlsx", *CHARTS]:
        assert (folder / name).is_file()
    assert "report.html" in done.stdout


def test_cli_report_refuses_a_folder_that_is_not_results(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    done = _cli("report", str(tmp_path))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0]
    assert "Traceback" not in done.stderr


def test_workbook_opens_on_a_formatted_summary(hostile_results):
    wb = load_workbook(hostile_results / "results.xlsx")  # not read-only: keeps number formats
    assert wb.sheetnames[0] == "summary"
    assert wb.sheetnames[1:7] == list(TABLE_FILES)  # the raw tables follow
    rows = {row[0].value: row for row in wb["summary"].iter_rows() if row and row[0].value}
    assert rows["price year"][1].value == "2011-12"
    assert rows["horizon (years)"][1].value == 2
    assert rows["replications"][1].value == 2 and rows["seed"][1].value == 1
    assert "Two-year cost by agency (discounted)" in rows
    police = rows["Police"]
    cba = pd.read_csv(hostile_results / "costs_by_agency.csv")
    want = cba[(cba["arm"] == "non_iom") & (cba["agency"] == "police")]["discounted_cost"]
    assert police[1].value == pytest.approx(float(want.iloc[0]))
    for cell in police[1:4]:
        assert cell.number_format == '"£"#,##0'
    assert "Victims and society" in rows and "All agencies" in rows
    for label in ("Benefit per £1 spent on IOM (as to society)",
                  "Benefit per £1, to the taxpayer", "Benefit per £1, to society"):
        assert rows[label][1].number_format == '"£"#,##0.00'
    # A two-year horizon has no two-year proven reoffending (it waits six months more).
    assert "Benefit per £1, as the evaluation counted it" in rows
    reconvicted = rows["Reconvicted within 24 months"]
    assert reconvicted[1].number_format == "0.0%" and 0 <= reconvicted[1].value <= 1
    assert "pts" in reconvicted[3].number_format  # a change in a rate, in percentage points
    about = {row[0].value: row[1].value for row in wb["about"].iter_rows()}
    assert about["price year"] == "2011-12"
    assert "2011-12 prices" in about["money"]
    # the raw tables' money is currency too, row by row in economics
    econ = wb["economics"]
    header = [c.value for c in econ[1]]
    by_metric = {row[0].value: row for row in econ.iter_rows(min_row=2)}
    assert "£" in by_metric["iom_cost"][header.index("value")].number_format
    assert by_metric["benefit_per_pound_exceeds_one_share"][
        header.index("value")].number_format == "0.0%"


def test_every_chart_states_the_price_year_and_horizon(hostile_results, tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    from PIL import Image

    footer = "£ at 2011-12 prices; discounted at 3.5% a year where stated; 2-year horizon"
    saved = []
    original = Figure.savefig

    def savefig(fig, *args, **kwargs):
        saved.append([t.get_text() for t in fig.texts])
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    folder = tmp_path / "run"
    shutil.copytree(hostile_results, folder)
    write_report(folder)
    assert len(saved) == len(CHARTS)
    assert all(footer in texts for texts in saved), saved
    for name in CHARTS:  # and in the PNG itself, for a chart that travels alone
        assert Image.open(folder / name).text.get("Description") == footer, name


def test_a_change_in_a_relative_change_is_in_points(html):
    row = html.split("Convictions in 12 months: change on the 24 months before", 1)[1]
    row = row.split("</tr>", 1)[0]
    assert re.search(r"[−+]?\d+\.\d points", row), row
