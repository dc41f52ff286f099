"""Nothing is lost and every number can be traced: the archive, rebuilding the warehouse
from it alone, explaining a published figure, and closing and reopening a period."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import openpyxl
import pytest

from pipeline.catalogue import CATALOGUE_DIR, default_catalogue
from pipeline.cli import main
from pipeline.intake.archive import archived_versions
from pipeline.intake.take_in import take_in_unit
from pipeline.periods import MARKER
from pipeline.publication.publish import publish_period
from pipeline.publication.status import write_status
from pipeline.settings import Places
from pipeline.states import ArrivalState
from pipeline.tools.sample import sample_values
from pipeline.warehouse import connect
from pipeline.workbook.reader import file_sha256
from pipeline.workbook.template import Filling, write_unit_workbook
from tests.conftest import CLOSING, take_in_everything

T0 = dt.datetime(2023, 8, 10, 8, 0)


@pytest.fixture(scope="module")
def loaded(catalogue, sample_files, tmp_path_factory):
    """The sample taken in through an inbox, as the pipeline does it."""
    return take_in_everything(catalogue, Places.under(tmp_path_factory.mktemp("data")), T0, sample_files)


def _totals(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(
            """SELECT unit, form, item, "column", value, file_name, received_at, sheet, cell FROM current_values
               ORDER BY ALL"""
        ).fetchall()


def test_every_received_file_is_archived_unchanged(catalogue, loaded, sample_files):
    for path in sample_files:
        unit = next((u.code for u in catalogue.units if path.name.startswith(u.code + "-")), "")
        [version] = archived_versions(loaded.archive, "2023", unit)
        assert file_sha256(version.path) == file_sha256(path)
        assert (version.original_name, version.received_at) == (path.name, T0)
    with duckdb.connect(str(loaded.warehouse), read_only=True) as conn:
        stored = conn.execute("SELECT archived_path FROM submissions WHERE unit = '03259'").fetchone()[0]
    assert (loaded.archive / stored).read_bytes() == next(p for p in sample_files if p.name.startswith("03259")).read_bytes()


def test_receiving_the_same_file_again_keeps_its_first_time(catalogue, loaded):
    later = T0 + dt.timedelta(days=3)
    result = take_in_unit(catalogue, loaded, "2023", "03259", later)
    assert not result.newly_loaded
    [version] = archived_versions(loaded.archive, "2023", "03259")
    assert version.received_at == T0


def test_rebuild_from_the_archive_alone_gives_identical_figures(catalogue, loaded, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(loaded.archive, copy / "archive")  # nothing but the archive
    assert main(["rebuild", "--data", str(copy)]) == 0
    assert _totals(copy / "warehouse.duckdb") == _totals(loaded.warehouse)
    _, original = publish_period(catalogue, loaded.warehouse, tmp_path / "a", "2023")
    _, rebuilt = publish_period(catalogue, copy / "warehouse.duckdb", tmp_path / "b", "2023")
    for code, path in original.files.items():
        assert path.read_bytes() == rebuilt.files[code].read_bytes(), code


def test_explain_lists_every_contribution_and_the_sum(loaded, capsys):
    assert main(["explain", "--data", str(loaded.data), "--bieu", "02", "--row", "DA4.TDA1", "--col", "GN_SN"]) == 0
    out = capsys.readouterr().out
    assert "Biểu 02 · DA4.TDA1 · GN_SN – kỳ 2023" in out
    assert '099-GDNN Trung tâm Giáo dục nghề nghiệp - Giáo dục thường xuyên · 02:DA4.TDA1:GN_SN · tệp ' \
           '"099-GDNN-trung-tam-giao-duc-nghe-nghiep-giao-duc-thuong-xuyen.xlsx", sheet "02 Nguồn vốn", ô K15' in out
    assert out.count("02:DA4.TDA1:GN_SN") == 23
    assert "  = 1.200\n" in out


def test_explain_a_rate_and_its_lineage_in_duckdb(catalogue, loaded, capsys):
    assert main(["explain", "--data", str(loaded.data), "--bieu", "01", "--row", "T01"]) == 0
    out = capsys.readouterr().out
    assert "  = 7.966\n" in out and "  = 19.336\n" in out and "Tỷ lệ = 100 × tử số / mẫu số = 41,198 %" in out
    with connect(loaded.warehouse) as conn:
        rows = conn.execute("""SELECT unit_name, value, file_name, sheet, cell FROM lineage
                               WHERE form = '01' AND item = 'HO_NGHEO' AND unit = '03253'""").fetchall()
    [(name, value, file_name, sheet, cell)] = rows
    workbook = openpyxl.load_workbook(loaded.inbox / "2023" / file_name)
    assert (name, sheet, cell) == ("Thị trấn Tuần Giáo", "01 Chỉ tiêu", "E6") and workbook[sheet][cell].value == value


def test_readers_with_another_unit_list_keep_the_loaded_one(catalogue, sample_files, tmp_path, monkeypatch):
    """Loaded with a 24-unit list; explain, publication and status run with the district's 23:
    the warehouse's unit list and its lineage keep the 24th unit."""
    units = tmp_path / "units-24.csv"
    units.write_text((CATALOGUE_DIR / "units.csv").read_text(encoding="utf-8")
                     + "03309,Xã Mường Thử,xa,nong_thon,099,Huyện Tuần Giáo,11,Tỉnh Điện Biên,,\n", encoding="utf-8")
    wide = default_catalogue(units)
    places = Places.under(tmp_path / "data")
    inbox = places.inbox / "2023"
    inbox.mkdir(parents=True)
    shutil.copy(next(p for p in sample_files if p.name.startswith("03259")), inbox)
    write_unit_workbook(inbox / "03309-xa-muong-thu.xlsx", wide, wide.unit("03309"),
                        Filling({"KY_BAO_CAO": "2023"}, sample_values(catalogue)["03259"]))
    assert [take_in_unit(wide, places, "2023", code, T0).status for code in ("03259", "03309")] == ["valid"] * 2

    monkeypatch.delenv("TUANGIAO_UNITS", raising=False)  # the readers see the catalogue's 23 units
    assert len(catalogue.units_in("2023")) == 23
    assert main(["explain", "--data", str(places.data), "--bieu", "01", "--row", "T01"]) == 0
    publish_period(catalogue, places.warehouse, places.out, "2023")
    with connect(places.warehouse) as conn:
        write_status(catalogue, conn, places.out)
    with duckdb.connect(str(places.warehouse), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM units WHERE period = '2023'").fetchone()[0] == 24
        assert conn.execute("SELECT DISTINCT unit FROM lineage ORDER BY unit").fetchall() == [("03259",), ("03309",)]


@pytest.mark.parametrize(("args", "words"), [
    (["--bieu", "02", "--row", "DA9", "--col", "GN"], 'không có dòng "DA9"'),
    (["--bieu", "01", "--row", "T99"], 'không có chỉ tiêu "T99"'),
    (["--bieu", "03", "--row", "TONG", "--col", "KHONG_CO"], 'Không có cột "KHONG_CO"'),
])
def test_explain_an_unknown_figure(loaded, capsys, args, words):
    assert main(["explain", "--data", str(loaded.data), *args]) == 2
    assert words in capsys.readouterr().err


def test_close_and_reopen_a_period(catalogue, loaded, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(loaded.data, data)
    places = Places.under(data)
    assert main(["close-period", "2023", *CLOSING, "--data", str(data)]) == 0
    final = data / "out" / "2023" / "chinh-thuc"
    record = json.loads((final / MARKER).read_text(encoding="utf-8"))
    assert sorted(record["files"]) == sorted(p.name for p in final.iterdir() if p.name != MARKER)
    title = [c.value for row in openpyxl.load_workbook(final / "Bieu_02_2023.xlsx")["Biểu 02"].iter_rows(max_row=4)
             for c in row if isinstance(c.value, str) and "KẾT QUẢ" in c.value]
    assert set(title) == {"KẾT QUẢ THỰC HIỆN CHƯƠNG TRÌNH (NGUỒN VỐN VÀ GIẢI NGÂN) – CHÍNH THỨC"}  # over each column group
    result = take_in_unit(catalogue, places, "2023", "03259", T0 + dt.timedelta(days=30))
    assert result.status == ArrivalState.CLOSED and "đã khóa sổ" in result.findings[0].message
    assert main(["close-period", "2023", *CLOSING, "--data", str(data)]) == 2
    assert "đã khóa sổ" in capsys.readouterr().err
    assert main(["reopen-period", "2023", "--data", str(data)]) == 0
    assert not final.exists() and len(list((data / "out" / "2023").glob("chinh-thuc-da-mo-lai-*"))) == 1
    assert take_in_unit(catalogue, places, "2023", "03259", T0 + dt.timedelta(days=31)).status == "valid"
