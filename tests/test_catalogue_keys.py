"""The catalogue refuses what it does not know. Every key of every catalogue file (at the
first entry of each kind that has it, and every column of units.csv) is, in a copy of the
catalogue, renamed to a typo, dropped, and joined by an unknown key: each time the loader
refuses the copy with a CatalogueError naming the file (and, for the typo, the key meant),
unless a dropped key is one the file's model declares optional; then the copy loads, or is
refused for what the missing key means, and nothing else goes wrong."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from pipeline.catalogue import CATALOGUE_DIR, CatalogueError, load_catalogue
from pipeline.catalogue.layouts import LayoutFile, SharedLayout
from pipeline.catalogue.phase import PhaseFile
from pipeline.catalogue.report_text import ReportFile
from pipeline.catalogue.schema import (
    DistrictFile,
    FormFile,
    LineageRow,
    PeriodsFile,
    ProgrammeFile,
    RegimesFile,
    TargetsFile,
    UnitRow,
    model_at,
)

MODELS = {  # every data file of the catalogue, by pattern, with the model that reads it
    "forms/*.toml": FormFile,
    "bieu/sub_project.toml": SharedLayout,
    "bieu/[0-9]*.toml": LayoutFile,
    "programme.toml": ProgrammeFile,
    "targets.toml": TargetsFile,
    "periods.toml": PeriodsFile,
    "district.toml": DistrictFile,
    "regimes.toml": RegimesFile,
    "report.toml": ReportFile,
    "phase.toml": PhaseFile,
    "units.csv": UnitRow,
    "lineage.csv": LineageRow,
}
FILES = {path.relative_to(CATALOGUE_DIR).as_posix(): model
         for pattern, model in MODELS.items() for path in sorted(CATALOGUE_DIR.glob(pattern))}
UNKNOWN = "khoa_la"
MUTATIONS = ("rename", "drop", "add")


def typo(key: str) -> str:
    """The key with its last two letters swapped, as a hurried hand types it: "parent" → "paretn"."""
    return key[:-2] + key[-1] + key[-2]


# --------------------------------------------------------------------------- reading and writing the files


def read(file: str, text: str) -> dict:
    """A TOML file's data; for a CSV file (units.csv, lineage.csv), its first row (the columns are its keys)."""
    if file.endswith(".csv"):
        return next(csv.DictReader(io.StringIO(text)))
    return tomllib.loads(text)


def toml(data: dict) -> str:
    """``data`` as TOML: a line per top-level key, the tables and arrays inside written inline."""
    return "".join(f"{_key(key)} = {_value(value)}\n" for key, value in data.items())


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _value(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, dt.date)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def key_paths(data: dict, model) -> list[tuple[tuple, str]]:
    """(the path to an entry, one of its keys): each key once per kind of entry, where it
    first occurs. A table of free keys (the verdicts, the units of report.toml) is data."""
    found: list[tuple[tuple, str]] = []
    seen: set[tuple] = set()

    def walk(entry: dict, model, path: tuple, kind: tuple) -> None:
        for key, value in entry.items():
            if (*kind, key) not in seen:
                seen.add((*kind, key))
                found.append((path, key))
            inner = model_at(model, (key,))
            if inner is None:
                continue
            if isinstance(value, list):
                for n, element in enumerate(value):
                    walk(element, inner, (*path, key, n), (*kind, key))
            else:
                walk(value, inner, (*path, key), (*kind, key))

    walk(data, model, (), ())
    return found


def mutated(file: str, text: str, path: tuple, key: str, mutation: str) -> str:
    """The file's text with ``key`` of the entry at ``path`` renamed, dropped, or joined by another."""
    if file.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(text)))
        column = rows[0].index(key)
        if mutation == "rename":
            rows[0][column] = typo(key)
        for row in rows:
            if mutation == "drop":
                del row[column]
            elif mutation == "add":
                row.append(UNKNOWN if row is rows[0] else "x")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        return out.getvalue()
    data = tomllib.loads(text)
    entry = data
    for step in path:
        entry = entry[step]
    if mutation == "rename":
        entry[typo(key)] = entry.pop(key)
    elif mutation == "drop":
        del entry[key]
    else:
        entry[UNKNOWN] = "x"
    return toml(data)


def required(file: str, path: tuple, key: str) -> bool:
    """Whether the model of the entry at ``path`` requires ``key``."""
    model = model_at(FILES[file], path)
    return next(f for name, f in model.model_fields.items() if (f.alias or name) == key).is_required()


CASES = [(file, path, key, mutation)
         for file in FILES
         for path, key in key_paths(read(file, (CATALOGUE_DIR / file).read_text(encoding="utf-8")), FILES[file])
         for mutation in MUTATIONS]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A copy of the catalogue, each test's mutation undone after it."""
    return Path(shutil.copytree(CATALOGUE_DIR, tmp_path_factory.mktemp("keys") / "catalogue",
                                ignore=shutil.ignore_patterns("*.py", "__pycache__")))


# --------------------------------------------------------------------------- tests


def test_every_catalogue_file_has_a_model():
    data_files = {p.relative_to(CATALOGUE_DIR).as_posix() for p in CATALOGUE_DIR.rglob("*")
                  if p.suffix in (".toml", ".csv")}
    assert set(FILES) == data_files
    assert len(CASES) > 300  # each file's keys, three mutations each


def test_the_files_written_back_load_the_same_catalogue(folder):
    for file in FILES:
        if file.endswith(".toml"):
            (folder / file).write_text(toml(tomllib.loads((CATALOGUE_DIR / file).read_text(encoding="utf-8"))),
                                       encoding="utf-8")
    try:
        again, shipped = load_catalogue(folder), load_catalogue(CATALOGUE_DIR)
        assert (again.version, again.forms, again.bieu, again.report, again.district, again.headline) == (
            shipped.version, shipped.forms, shipped.bieu, shipped.report, shipped.district, shipped.headline)
    finally:
        for file in FILES:
            shutil.copyfile(CATALOGUE_DIR / file, folder / file)


@pytest.mark.parametrize("file, path, key, mutation", CASES,
                         ids=[f"{f}:{'.'.join(map(str, (*p, k)))}:{m}" for f, p, k, m in CASES])
def test_every_key_is_known(folder, file, path, key, mutation):
    text = (CATALOGUE_DIR / file).read_text(encoding="utf-8")
    (folder / file).write_text(mutated(file, text, path, key, mutation), encoding="utf-8")
    try:
        if mutation == "drop" and not required(file, path, key):
            try:
                load_catalogue(folder)  # an optional key: the copy loads…
            except CatalogueError as refused:  # … or is refused for what the key meant (a rate's denominator)
                assert refused.file == file, str(refused)
            return
        with pytest.raises(CatalogueError) as caught:
            load_catalogue(folder)
        expected = {"rename": f'"{typo(key)}": không có khoá này — có phải "{key}"?',
                    "drop": f'thiếu trường "{key}"',
                    "add": f'"{UNKNOWN}": không có khoá này'}[mutation]
        assert caught.value.file == file and expected in str(caught.value), str(caught.value)
    finally:
        (folder / file).write_text(text, encoding="utf-8")
