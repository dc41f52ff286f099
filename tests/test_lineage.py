"""Lineage as data (issue 30): lineage.csv loaded with the catalogue and checked (no unit lost,
no cycle, dates that match, parts that add up), each problem a Vietnamese error naming the row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.catalogue import CatalogueError, load_catalogue
from pipeline.catalogue.lineage import origins
from tests.test_units import copy_catalogue

JULY = dt.date(2025, 7, 1)


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _replace_row(folder: Path, start: str, row: str) -> None:
    """lineage.csv with its row that starts with ``start`` replaced by ``row`` ("" removes it)."""
    path = folder / "lineage.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert sum(line.startswith(start) for line in lines) == 1
    path.write_text("".join(row if line.startswith(start) else line for line in lines), encoding="utf-8")


def test_shipped_lineage_every_old_commune_has_a_successor(catalogue):
    made_of = origins(catalogue.lineage, catalogue.units, dt.date(2024, 12, 31), dt.date(2025, 12, 31))
    by_new = {u.name: sorted(o.unit.name for o in parts) for u, parts in made_of.items()}
    assert by_new["Xã Tuần Giáo"] == ["Thị trấn Tuần Giáo", "Xã Quài Cang", "Xã Quài Nưa"]
    assert by_new["Xã Chiềng Sinh"] == ["Xã Chiềng Sinh", "Xã Mường Khong", "Xã Mường Thín", "Xã Nà Sáy"]
    assert by_new["Xã Búng Lao"] == ["Xã Búng Lao", "Xã Chiềng Đông", "Xã Ẳng Tở"]
    assert by_new["Xã Sáng Nhè"] == ["Xã Mường Đun", "Xã Phình Sáng", "Xã Xá Nhè"]
    # Every commune of 2023 goes somewhere; Nà Tòng's successor is recorded as not confirmed.
    placed = {o.unit.code for parts in made_of.values() for o in parts}
    assert {u.code for u in catalogue.units_in("2023") if u.is_commune} <= placed
    na_tong = next(link for link in catalogue.lineage if link.old == "03263")
    assert not na_tong.confirmed and "Chưa xác nhận" in na_tong.note
    assert all(link.confirmed for link in catalogue.lineage if link.old != "03263")
    # The district's agencies end with the district, said so, not lost.
    assert {link.old for link in catalogue.lineage if link.kind == "ended"} == {
        "099-LDTBXH", "099-NNPTNT", "099-TCKH", "099-GDNN"}


def test_a_lost_unit_is_refused(tmp_path):
    folder = copy_catalogue(tmp_path)
    _replace_row(folder, "03299,", "")
    with pytest.raises(CatalogueError, match='"lineage.csv", mục "03299": "03299 – Xã Chiềng Đông" kết thúc ngày '
                                            '30/06/2025 mà không có đơn vị kế tiếp'):
        load_catalogue(folder)


def test_a_cycle_is_refused(tmp_path):
    """Two units that each become the other on the same day."""
    folder = copy_catalogue(tmp_path)
    with (folder / "units.csv").open("a", encoding="utf-8") as f:
        f.write("90001,Xã Thử A,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,no,no,thử\n"
                "90002,Xã Thử B,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,no,no,thử\n")
    with (folder / "lineage.csv").open("a", encoding="utf-8") as f:
        f.write("90001,90002,2026-01-01,whole,,yes,,\n90002,90001,2026-01-01,whole,,yes,,\n")
    with pytest.raises(CatalogueError, match=r'"lineage.csv", mục "dòng 30": vòng lặp: 90001 – Xã Thử A → '
                                            r'90002 – Xã Thử B → 90001 – Xã Thử A'):
        load_catalogue(folder)


def test_a_day_that_does_not_match_the_old_units_end_is_refused(tmp_path):
    """The old commune ends on 30/6/2025 but the row moves it on 1/1/2025: dates overlap."""
    folder = copy_catalogue(tmp_path)
    _edit(folder, "lineage.csv", "03274,03253,2025-07-01", "03274,03253,2025-01-01")
    with pytest.raises(CatalogueError, match='mã đơn vị mới "03253" không có đơn vị nào có hiệu lực ngày 01/01/2025|'
                                            "ngày chuyển 01/01/2025 không khớp"):
        load_catalogue(folder)
    folder = copy_catalogue(tmp_path / "b")
    _edit(folder, "units.csv", "03274,Xã Quài Nưa,xa,nong_thon,099,Huyện Tuần Giáo,11,Tỉnh Điện Biên,,2025-06-30",
          "03274,Xã Quài Nưa,xa,nong_thon,099,Huyện Tuần Giáo,11,Tỉnh Điện Biên,,2025-09-30")
    with pytest.raises(CatalogueError, match='ngày chuyển 01/07/2025 không khớp: "03274 – Xã Quài Nưa" có hiệu lực '
                                            "đến 30/09/2025, phải kết thúc ngày 30/06/2025"):
        load_catalogue(folder)


@pytest.mark.parametrize("row, message", [
    ("03299,99999,2025-07-01,whole,,yes,,", 'mã đơn vị mới "99999" không có trong units.csv'),
    ("03299,03292,2025-07-01,whole,,yes,,", 'mã đơn vị mới "03292" không có đơn vị nào có hiệu lực ngày 01/07/2025'),
    ("03299,03301,2025-07-01,whole,,yes,,\n03299,03283,2025-07-01,part,0.6,yes,,",
     'loại "whole" hoặc "ended" phải là dòng duy nhất'),
    ("03299,03301,2025-07-01,whole,,maybe,,", '"confirmed" = "maybe": phải là một trong "yes", "no"'),
    ("03299,,2025-07-01,whole,,yes,,", '"ended" .* thì để trống "new_code"'),
    ("03299,03301,2025-02-30,whole,,yes,,", '"date" = "2025-02-30": không phải ngày có thật'),
])
def test_rows_the_catalogue_does_not_know_are_refused(tmp_path, row, message):
    folder = copy_catalogue(tmp_path)
    _replace_row(folder, "03299,", row + "\n")
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(folder)


def test_a_split_whose_parts_do_not_add_up_is_refused(tmp_path):
    folder = copy_catalogue(tmp_path)
    _edit(folder, "lineage.csv", "03299,03301,2025-07-01,whole,,yes,", "03299,03301,2025-07-01,part,0.5,yes,")
    with (folder / "lineage.csv").open("a", encoding="utf-8") as f:
        f.write("03299,03283,2025-07-01,part,0.4,yes,,\n")
    with pytest.raises(CatalogueError, match='"03299 – Xã Chiềng Đông" chia tách ngày 01/07/2025 thành các phần '
                                            "cộng lại bằng 0.9, không bằng 1"):
        load_catalogue(folder)
    _edit(folder, "lineage.csv", "03299,03283,2025-07-01,part,0.4", "03299,03283,2025-07-01,part,0.5")
    cat = load_catalogue(folder)
    made_of = origins(cat.lineage, cat.units, dt.date(2024, 12, 31), JULY)
    shares = {u.code: {o.unit.code: o.share for o in parts} for u, parts in made_of.items()}
    assert shares["03301"]["03299"] == shares["03283"]["03299"] == Decimal("0.5")


def test_the_warehouse_holds_the_lineage(catalogue, tmp_path):
    from pipeline.warehouse import connect, create_schema, record_catalogue_lists

    with connect(tmp_path / "kho.duckdb") as conn:
        create_schema(conn)
        record_catalogue_lists(conn, catalogue)
        rows = conn.execute("SELECT old_code, new_code, day, kind, share, confirmed FROM unit_lineage "
                            "WHERE new_code = '03301' ORDER BY old_code").fetchall()
    assert rows == [(code, "03301", JULY, "whole", Decimal(1), True) for code in ("03292", "03299", "03301")]


def test_the_page_shows_units_and_lineage_with_what_is_not_confirmed(tmp_path):
    import warnings

    from pipeline.settings import Settings
    from pipeline.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    folder = copy_catalogue(tmp_path)
    # A commune whose code is not confirmed yet: provisional, and the page asks for the official one.
    _edit(folder, "units.csv", "03244,Xã Sáng Nhè,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,,yes,",
          "03244,Xã Sáng Nhè,xa,nong_thon,,,11,Tỉnh Điện Biên,2025-07-01,,,no,")
    # A unit list given instead of units.csv brings the lineage.csv beside it.
    settings = Settings.from_environment({"TUANGIAO_UNITS": str(folder / "units.csv")}, data_dir=str(tmp_path / "data"))
    response = TestClient(create_app(tmp_path / "data", settings=settings)).get("/don-vi-hanh-chinh")
    text = response.text
    assert response.status_code == 200 and "<script" not in text
    assert ('03253 – Xã Tuần Giáo</td><td data-label="Gồm đơn vị cũ"><ul><li>03253 – Thị trấn Tuần Giáo – Huyện Tuần '
            "Giáo</li><li>03274 – Xã Quài Nưa – Huyện Tuần Giáo</li><li>03289 – Xã Quài Cang – Huyện Tuần Giáo</li></ul>") in text
    assert ('03217 – Xã Tủa Chùa</td><td data-label="Gồm đơn vị cũ"><ul><li>03263 – Xã Nà Tòng – Huyện Tuần Giáo – '
            '<strong class="message">chưa xác nhận</strong> – Chưa xác nhận') in text
    assert '(chấm dứt, không có đơn vị kế tiếp)</td><td data-label="Gồm đơn vị cũ"><ul><li>099-LDTBXH' in text
    assert text.count("<strong class=\"message\">chưa xác nhận</strong>") == 1
    assert text.count("Mã tạm, chưa xác nhận: đề nghị cán bộ điền mã số chính thức") == 1
    assert "<td data-label=\"Trực thuộc\">Tỉnh Điện Biên</td><td data-label=\"Hiệu lực\" class=\"nowrap\">từ 01/07/2025" in text
