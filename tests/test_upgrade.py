"""Upgrades keep archived periods readable and re-publishable.

The template: the 2023 sample made with the previous release's template (another template
version) is refused as "mẫu cũ" unless the period keeps that version in periods.toml
(``template_versions``); kept, it is taken in and publishes the same Biểu as the current template's sample (the pinned
bytes), but for the file hashes the "Nguồn số liệu" sheet names.

The warehouse: one made with an older schema version is never migrated; the next intake
rebuilds it from the archive, and the Biểu come out the same."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pytest

from pipeline.catalogue import CATALOGUE_DIR, load_catalogue
from pipeline.intake.take_in import rebuild_if_outdated, take_in_unit
from pipeline.publication.publish import publish_period
from pipeline.settings import Places
from pipeline.tools.sample import write_sample
from pipeline.warehouse import SCHEMA_VERSION, OutdatedWarehouse, connect, create_schema, schema_version
from tests.conftest import ROOT, sample_taken_in, take_in_everything

T0 = dt.datetime(2023, 8, 10, 17, 0)
PINNED = json.loads((ROOT / "tests" / "bieu_hashes.json").read_text(encoding="utf-8"))["files"]
SOURCES = "Nguồn số liệu"  # the sheet naming each figure's file, by its content hash
RULE = '  { rule = "HO_NGHEO + HO_CAN_NGHEO <= HO_TONG", message = "Tổng số hộ nghèo và hộ cận nghèo không được lớn hơn tổng số hộ dân cư" },\n'


def _copy(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(CATALOGUE_DIR, tmp_path / name, ignore=shutil.ignore_patterns("*.py", "__pycache__")))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _published(catalogue, places: Places) -> dict[str, str]:
    _, publication = publish_period(catalogue, places.warehouse, places.out, "2023")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in [*publication.files.values(), publication.all_in_one, publication.archive]}


def _differences(one: Path, other: Path) -> list[tuple[str, str, object]]:
    """(sheet, cell, value in ``other``) of each cell whose value differs."""
    first, second = openpyxl.load_workbook(one), openpyxl.load_workbook(other)
    assert first.sheetnames == second.sheetnames
    return [(sheet.title, cell.coordinate, second[sheet.title][cell.coordinate].value)
            for sheet in first.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value != second[sheet.title][cell.coordinate].value]


@pytest.fixture(scope="module")
def previous(tmp_path_factory):
    """The previous release's catalogue (Biểu 01 without its one rule: another template version)
    and the 2023 sample made with its templates."""
    folder = tmp_path_factory.mktemp("previous")
    catalogue_dir = _copy(folder, "catalogue")
    _edit(catalogue_dir / "forms" / "01.toml", RULE, "")
    catalogue = load_catalogue(catalogue_dir)
    write_sample(folder / "inbox" / "2023", catalogue)
    return catalogue, sorted((folder / "inbox" / "2023").glob("*.xlsx"))


@pytest.mark.slow  # three intakes of the sample and two publications: about 30 s
def test_the_sample_of_the_previous_template_is_read_after_an_upgrade(catalogue, previous, tmp_path, tmp_path_factory):
    old, files = previous
    assert old.version != catalogue.version
    refused = take_in_everything(catalogue, Places.under(tmp_path / "today"), T0, files)  # today's release
    with connect(refused.warehouse) as conn:
        statuses = conn.execute("SELECT DISTINCT status FROM submissions").fetchall()
        codes = {c for c in conn.execute("SELECT DISTINCT code, severity FROM findings").fetchall()}
    assert statuses == [("invalid",)] and codes == {("mau_cu", "lỗi")}, codes  # every file refused: an old template

    upgraded_dir = _copy(tmp_path, "catalogue")
    _edit(upgraded_dir / "periods.toml", 'state = "mo"', f'state = "mo"\ntemplate_versions = ["{old.version}"]')
    upgraded = load_catalogue(upgraded_dir)
    assert upgraded.version == catalogue.version and upgraded.reads(old.version, "2023")
    places = take_in_everything(upgraded, Places.under(tmp_path / "upgraded"), T0, files)
    with connect(places.warehouse) as conn:
        assert conn.execute("SELECT DISTINCT status FROM submissions").fetchall() == [("valid",)]
    _published(upgraded, places)
    reference = sample_taken_in(catalogue, tmp_path_factory, tmp_path / "current", T0)  # made once for the run
    assert _published(catalogue, reference) == PINNED
    made_with = {hashlib.sha256(f.read_bytes()).hexdigest()[:12] for f in files}
    for name in PINNED:
        if name.endswith(".xlsx"):  # every Biểu the same, but for the hashes naming the files it comes from
            differ = _differences(reference.out / "2023" / name, places.out / "2023" / name)
            assert {(sheet, cell[0]) for sheet, cell, _ in differ} <= {(SOURCES, "G")}, (name, differ[:3])
            assert {value for _, _, value in differ} <= made_with


def test_a_kept_version_is_the_period_s_only(catalogue, tmp_path):
    folder = _copy(tmp_path, "catalogue")
    _edit(folder / "periods.toml", 'state = "mo"', 'state = "mo"\ntemplate_versions = ["0123456789ab"]')
    kept = load_catalogue(folder)
    assert kept.reads("0123456789ab", "2023") and kept.reads(kept.version, "2023")
    assert not kept.reads("0123456789ab", "2099") and not kept.reads("ba9876543210", "2023")
    _edit(folder / "periods.toml", '"0123456789ab"', '"not-a-version"')
    with pytest.raises(Exception, match="periods.toml"):
        load_catalogue(folder)


# The warehouse's schema version ------------------------------------------------------------------

def test_a_new_warehouse_is_stamped_and_an_older_one_refused(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with connect(path) as conn:
        assert schema_version(conn) is None
        create_schema(conn)
        assert schema_version(conn) == SCHEMA_VERSION
        create_schema(conn)  # again: nothing changes
        assert conn.execute("SELECT count(*) FROM warehouse_schema").fetchone()[0] == 1
        conn.execute("DROP TABLE warehouse_schema")  # as made before versions were stamped
        assert schema_version(conn) == 0
        with pytest.raises(OutdatedWarehouse, match="python -m pipeline rebuild"):
            create_schema(conn)


@pytest.mark.slow  # the sample published, then rebuilt
def test_an_older_warehouse_is_rebuilt_from_the_archive_by_the_next_intake(catalogue, tmp_path, tmp_path_factory):
    places = sample_taken_in(catalogue, tmp_path_factory, tmp_path / "data", T0)
    assert _published(catalogue, places) == PINNED
    with connect(places.warehouse) as conn:  # an older release's warehouse: another version, and other tables
        conn.execute("UPDATE warehouse_schema SET version = ?", [SCHEMA_VERSION - 1])
        conn.execute("DELETE FROM submission_values")
    with pytest.raises(OutdatedWarehouse):  # read as it is, it would publish empty Biểu
        publish_period(catalogue, places.warehouse, places.out, "2023")
    take_in_unit(catalogue, places, "2023", catalogue.units_in("2023")[0].code, T0)  # the next intake
    with connect(places.warehouse) as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM submission_values").fetchone()[0] > 1000
    assert not rebuild_if_outdated(catalogue, places)  # rebuilt once
    assert _published(catalogue, places) == PINNED
