"""The results folder of one run: its file names, the columns of its tables, and their format.

``iomsim run`` writes the folder through :mod:`iomsim.results`, and :mod:`iomsim.reporting`
reads it, both through the definitions here, so that a file or a column is named in one place.
The README's "Results directory" section documents the same files and columns for users
(tests/test_results_folder.py checks that a run writes exactly these).

The CSVs are written at a fixed precision (:data:`CSV_FLOAT_FORMAT`) with ``\\n`` line ends, so
the same run gives the same bytes on every platform and however many processes ran it. Money is
written to the penny (:data:`MONEY_DECIMALS`): the money columns of a table
(:attr:`Table.money`), and in ``economics.csv`` the rows whose metric is an amount of money
(:func:`is_money_metric`); rates, shares and ratios keep :data:`CSV_FLOAT_FORMAT`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

SUMMARY_COLUMNS = ("value", "lo", "hi", "p025", "p975")
CSV_FLOAT_FORMAT = "%.6f"
MONEY_DECIMALS = 2
# Smaller than half the last printed digit: prints as zero, and would print as "-0.000000".
_ZERO = 5e-7
_ZERO_MONEY = 0.5 * 10 ** -MONEY_DECIMALS


@dataclass(frozen=True)
class Table:
    """One table of the folder."""

    name: str                   # the Results attribute and the results.xlsx sheet
    file: str
    columns: tuple[str, ...]    # as written, in this order
    required: tuple[str, ...]   # what a reader relies on: without them it is not a results table
    money: tuple[str, ...] = ()  # columns in pounds, written to the penny
    # A column naming each row's metric, when some rows are money and others are not: the
    # SUMMARY_COLUMNS of a row whose metric is_money_metric() are written to the penny.
    money_rows_by: str | None = None

    def subset(self, *names: str) -> list[str]:
        """``names``, each checked to be a column of this table: a reader that uses only some
        columns names them through here, so a column renamed here cannot be missed there."""
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise ValueError(f"{self.file} has no documented column(s) {', '.join(unknown)}")
        return list(names)

    def missing_columns(self, frame: pd.DataFrame) -> list[str]:
        return [c for c in self.required if c not in frame.columns]


COSTS = Table(
    "costs", "costs.parquet",
    ("arm", "replication", "year", "agency", "item", "iom_programme", "cost", "discounted_cost"),
    required=("arm", "replication", "year", "agency", "item", "cost", "discounted_cost"),
    money=("cost", "discounted_cost"))
COSTS_BY_AGENCY = Table(
    "costs_by_agency", "costs_by_agency.csv",
    ("arm", "agency", "cost", "discounted_cost", "share", "lo", "hi", "p025", "p975"),
    required=("arm", "agency", "cost", "discounted_cost", "share"),
    money=("cost", "discounted_cost", "lo", "hi", "p025", "p975"))
OUTCOMES = Table("outcomes", "outcomes.csv", ("arm", "metric", *SUMMARY_COLUMNS),
                 required=("arm", "metric", "value"))
ECONOMICS = Table("economics", "economics.csv", ("metric", *SUMMARY_COLUMNS),
                  required=("metric", "value"), money_rows_by="metric")
SURVIVAL = Table("survival", "survival.csv",
                 ("arm", "month", "day", "share_not_reconvicted", "lo", "hi"),
                 required=("arm", "month", "share_not_reconvicted"))
POPULATION = Table("population", "population.csv", ("population", "measure", *SUMMARY_COLUMNS),
                   required=("population", "measure", "value"))

# What the before/after change in the 24-month reconviction measures is made of (see
# iomsim.decomposition): written only by a run with 24 months before day 0 and a horizon of at
# least two years.
DECOMPOSITION = Table("decomposition", "decomposition.csv",
                      ("measure", "component", "mean", "lower", "upper",
                       "share_of_observed_change", "replications"),
                      required=("measure", "component", "mean"))

# Each payer's saving by year (see iomsim.results.savings_by_payer_table); optional only so that
# a folder written before it existed can still be read.
SAVINGS_BY_PAYER = Table("savings_by_payer", "savings_by_payer.csv",
                         ("payer", "year", "saving", "saving_lo", "saving_hi",
                          "cumulative_saving", "cumulative_lo", "cumulative_hi",
                          "paid_back_share", "payback_year"),
                         required=("payer", "year", "saving", "cumulative_saving"),
                         money=("saving", "saving_lo", "saving_hi", "cumulative_saving",
                                "cumulative_lo", "cumulative_hi"))

# The switching value: the IOM effect at which the taxpayer's and society's NPV are zero. Not
# written by a run (it needs a search over simulations): `iomsim breakeven --switching-value
# --results FOLDER` adds it to a results folder, and the report shows it when present.
SWITCHING_VALUE = Table("switching_value", "switching_value.csv",
                        ("measure", "offending_multiplier", "multiplier_lo", "multiplier_hi",
                         "effect", "effect_lo", "effect_hi", "confidence", "reps", "seed",
                         "note"),
                        required=("measure", "effect", "effect_lo", "effect_hi"))

TABLES = (COSTS, COSTS_BY_AGENCY, OUTCOMES, ECONOMICS, SURVIVAL, POPULATION)  # in writing order
# Tables a run writes only when they apply (after TABLES); a reader takes them when present.
OPTIONAL_TABLES = (DECOMPOSITION, SAVINGS_BY_PAYER, SWITCHING_VALUE)
MANIFEST = "manifest.json"
# Says the folder is iomsim's, so that --force may replace it (see iomsim.folders); folders
# written before it existed are recognised by their manifest and tables.
MARKER = ".iomsim-folder"
READ_FILES = (*(t.file for t in TABLES), MANIFEST)  # what a reader needs
# What `iomsim run` always writes: savings_by_payer.csv too, though a reader does without it
# (folders written before it existed).
RESULT_FILES = (*READ_FILES, SAVINGS_BY_PAYER.file, MARKER)
OPTIONAL_FILES = tuple(t.file for t in OPTIONAL_TABLES)  # and what it writes when they apply

# Written by `iomsim report` (or `run --report`) beside the tables.
REPORT = "report.html"
WORKBOOK = "results.xlsx"
CHARTS = {
    "agency_cost_shares": "agency_cost_shares.png",
    "offender_year_by_agency": "offender_year_by_agency.png",
    "cumulative_cost": "cumulative_cost.png",
    "who_pays_who_saves": "who_pays_who_saves.png",
    "reconviction": "reconviction.png",
    "decomposition": "decomposition.png",  # only with decomposition.csv
}


# Economics metrics that are not amounts of money: pounds back per pound (a ratio), shares and
# the evaluation measure's count of proven reoffences averted, and payback years.
NOT_MONEY_PREFIXES = ("benefit_per_pound", "proven_reoffences_averted", "payback_year")


def is_money_metric(metric: str) -> bool:
    """Whether an ``economics.csv`` metric is an amount of money (IOM spend, benefits, NPV, net
    changes, per offender too), not a ratio or a share."""
    return not (metric.startswith(NOT_MONEY_PREFIXES) or metric.endswith("_share"))


# ---------------------------------------------------------------------------------------------
# Writing


def _money_cells(values: pd.Series) -> pd.Series:
    """Amounts to the penny, as text (the CSV's one float format is for rates); a missing value
    stays missing, and an amount that rounds to zero is "0.00", never "-0.00"."""
    v = values.astype(float).round(MONEY_DECIMALS)
    v = v.mask(v.abs() < _ZERO_MONEY, 0.0)
    return v.map(lambda x: "" if pd.isna(x) else f"{x:.{MONEY_DECIMALS}f}").astype(object)


def for_file(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame`` with its money columns rounded to the penny, as numbers: what the parquet file
    holds (a CSV's money is written as text by :func:`write_csv`)."""
    money = [c for c in table.money if c in frame.columns]
    if not money:
        return frame
    frame = frame.copy()
    for col in money:
        frame[col] = frame[col].astype(float).round(MONEY_DECIMALS) + 0.0  # + 0.0: no -0.0
    return frame


def write_csv(frame: pd.DataFrame, path: Path, table: Table | None = None) -> None:
    """A results CSV: no index, :data:`CSV_FLOAT_FORMAT`, ``\\n`` line ends; with ``table``, its
    money to the penny (:attr:`Table.money`, :attr:`Table.money_rows_by`)."""
    # A difference that is zero up to rounding (say -1e-12) would print as "-0.000000".
    floats = frame.select_dtypes("float").columns
    if len(floats):
        frame = frame.copy()
        for col in floats:
            frame[col] = frame[col].mask(frame[col].abs() < _ZERO, 0.0)
    if table is not None:
        for col in (c for c in table.money if c in frame.columns):
            frame[col] = _money_cells(frame[col])
        if table.money_rows_by is not None and table.money_rows_by in frame.columns:
            rows = frame[table.money_rows_by].map(is_money_metric).astype(bool)
            for col in (c for c in SUMMARY_COLUMNS if c in frame.columns):
                text = frame[col].map(lambda x: "" if pd.isna(x) else CSV_FLOAT_FORMAT % x)
                frame[col] = text.where(~rows, _money_cells(frame[col])).astype(object)
    frame.to_csv(path, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


def write_table(frame: pd.DataFrame, folder: Path, table: Table) -> Path:
    path = Path(folder) / table.file
    if table.file.endswith(".parquet"):
        for_file(frame, table).to_parquet(path, index=False)
    else:
        write_csv(frame, path, table)
    return path


def write_manifest(manifest: Mapping[str, Any], folder: Path) -> Path:
    path = Path(folder) / MANIFEST
    # Keys in their own order: the resolved scenario's order is part of what reproduces it.
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    return path


def write_folder(tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any],
                 folder: Path) -> None:
    """Every table (``tables`` maps :attr:`Table.name` to its frame; an optional table whose
    frame is missing or None is not written), then the manifest: a folder with a manifest is a
    finished folder."""
    for table in TABLES:
        write_table(tables[table.name], folder, table)
    for table in OPTIONAL_TABLES:
        if tables.get(table.name) is not None:
            write_table(tables[table.name], folder, table)
    write_manifest(manifest, folder)


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(folder: Path, table: Table) -> pd.DataFrame:
    path = Path(folder) / table.file
    return pd.read_parquet(path) if table.file.endswith(".parquet") else pd.read_csv(path)


def read_optional_tables(folder: Path) -> dict[str, pd.DataFrame | None]:
    """Each of :data:`OPTIONAL_TABLES` by name: its frame, or None when the folder has no such
    file (the run did not apply)."""
    return {t.name: read_table(folder, t) if (Path(folder) / t.file).is_file() else None
            for t in OPTIONAL_TABLES}


def read_manifest(folder: Path) -> Any:
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


def missing_files(folder: Path) -> list[str]:
    """The files of :data:`READ_FILES` that ``folder`` lacks."""
    return [name for name in READ_FILES if not (Path(folder) / name).is_file()]


__all__ = ["CHARTS", "COSTS", "COSTS_BY_AGENCY", "CSV_FLOAT_FORMAT", "DECOMPOSITION", "ECONOMICS",
           "MANIFEST", "MARKER", "MONEY_DECIMALS", "NOT_MONEY_PREFIXES", "OPTIONAL_FILES",
           "OPTIONAL_TABLES", "OUTCOMES", "POPULATION", "READ_FILES", "REPORT", "RESULT_FILES",
           "SUMMARY_COLUMNS", "SURVIVAL",
           "TABLES", "Table", "WORKBOOK", "for_file", "is_money_metric", "missing_files", "read_manifest", "read_optional_tables", "read_table",
           "write_csv", "write_folder", "write_manifest", "write_table"]
