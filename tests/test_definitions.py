"""The Dagster layer for real: Definitions load, partition runs materialize on temporary
folders, and ``python -m assets run`` (what ``make run`` calls) consolidates the sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata
import zipfile

import dagster as dg
import duckdb
import openpyxl
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus

from assets.__main__ import main as assets_main
from assets.consolidation import district_consolidation
from assets.definitions import defs
from assets.intake import RESULT_TAG, STATE_TAG, UNIT_TAG
from assets.location import build_defs
from assets.partitions import submission_key
from assets.publication import district_plan, publish_bieu
from assets.resources import PipelineSettings
from pipeline.catalogue.batches import UNIT
from pipeline.settings import Settings
from tests.conftest import CLOSING, ROOT

unit_submission = defs.get_assets_def("unit_submission")


@pytest.fixture
def data_dir(tmp_path, sample_files):
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        if path.name.startswith(("03259", "03253", "099-TCKH")):
            shutil.copy(path, inbox / path.name)
    return tmp_path


def _materialize(assets, data_dir, partition=None, instance=None):
    settings = PipelineSettings(data_dir=str(data_dir), fixed_clock="2023-08-10T17:00:00", pdf=False)  # test_pdf_set renders
    return dg.materialize(
        assets, partition_key=partition, resources={"settings": settings},
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def _check(result):
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def _metadata(result):
    return {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}


def _state_tag(result) -> str:
    return result.get_asset_materialization_events()[0].materialization.tags[STATE_TAG]


def test_definitions_load_with_ascii_names_and_vietnamese_descriptions():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    bieu = {f"bieu_{n:02d}" for n in range(1, 16)}
    assert keys == {"unit_submission", "unidentified_submissions", "inbox_catch_up", "district_plan",
                    "district_consolidation", "submission_status", "bao_cao_danh_gia"} | bieu
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description
        assert key.to_user_string().isascii()
        assert description == unicodedata.normalize("NFC", description)
        assert any(word in description for word in ("đơn vị", "huyện", "Biểu"))
    partitions = graph.get(dg.AssetKey("unit_submission")).partitions_def
    assert "2023|03253" in partitions.get_partition_keys()
    # the 23 units of 2021–2024 and the two new codes of 2025 (five others reuse old codes), by
    # the years 2021–2025 (not the phase)
    assert len(partitions.get_partition_keys()) == 25 * 5
    assert {job.name for job in defs.resolve_all_job_defs()} >= {"submission_job", "inbox_job", "consolidation_job",
                                                                 "nightly_job"}
    [check] = graph.asset_check_keys
    assert check.name == "valid_submission" and not graph.get(check).blocking  # an invalid unit is a result
    assert graph.get(check).partitions_def == partitions


def test_unit_partition_loads_the_units_file(data_dir):
    result = _materialize([unit_submission], data_dir, submission_key("2023", "03259", UNIT))
    metadata = _metadata(result)
    assert result.success
    assert metadata["Trạng thái"] == "Hợp lệ" and metadata["Số lỗi"] == 0
    assert _state_tag(result) == "hop_le"  # the value people filter the runs' materializations on
    assert metadata["Đơn vị"] == "03259 – Xã Phình Sáng" and metadata["Tệp mới nhất"] == "03259-xa-phinh-sang.xlsx"
    assert _check(result).passed
    assert not (data_dir / "out" / "2023" / "phan-hoi").exists()  # nothing to fix: no feedback
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT unit, status FROM submissions").fetchall() == [("03259", "valid")]


def test_missing_and_broken_units(data_dir):
    missing = _materialize([unit_submission], data_dir, submission_key("2023", "03260", UNIT))
    assert _metadata(missing)["Trạng thái"] == "Chưa nộp" and _state_tag(missing) == "chua_nop"
    assert not _check(missing).passed and _check(missing).severity == dg.AssetCheckSeverity.WARN
    path = data_dir / "inbox" / "2023" / "03253-thi-tran-tuan-giao.xlsx"
    workbook = openpyxl.load_workbook(path)
    workbook["01 Chỉ tiêu"]["E5"] = None  # HO_TONG left empty
    workbook.save(path)
    broken = _materialize([unit_submission], data_dir, submission_key("2023", "03253", UNIT))
    metadata = _metadata(broken)
    assert metadata["Trạng thái"] == "Không hợp lệ" and metadata["Số lỗi"] == 1 and _state_tag(broken) == "khong_hop_le"
    assert broken.success  # a failed submission is a recorded result, not a failed run
    check = _check(broken)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    [row] = [record.data for record in check.metadata["Phát hiện"].records]  # a table, one row per finding
    assert (row["Mức độ"], row["Sheet"], row["Ô"]) == ("lỗi", "01 Chỉ tiêu", "E5") and "chưa nhập" in row["Nội dung"]
    assert row["Chỉ tiêu"].startswith("Tổng số hộ dân cư")
    # the file's route on the page; the page's address is the definition's, read when the location loads
    assert check.metadata["Tệp phản hồi"].value == "/tep/2023/phan-hoi/phan-hoi-03253-2023.xlsx"
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT code, cell FROM findings").fetchall() == [("chua_nhap", "E5")]
    assert _metadata(_materialize([unit_submission], data_dir, submission_key("2023", "03259", UNIT)))["Trạng thái"] == "Hợp lệ"
    consolidated = _metadata(_materialize([district_consolidation], data_dir))
    assert consolidated["Kỳ 2023 · Số đơn vị hợp lệ"] == 1  # the failed unit never reaches consolidation
    assert "Thị trấn Tuần Giáo" in consolidated["Kỳ 2023 · Chưa có báo cáo hợp lệ"]


def test_consolidation_names_missing_units(data_dir):
    for unit in ("03259", "099-TCKH"):
        _materialize([unit_submission], data_dir, submission_key("2023", unit, UNIT))
    metadata = _metadata(_materialize([district_consolidation], data_dir))
    assert metadata["Kỳ 2023 · Số đơn vị hợp lệ"] == 2
    assert "Thị trấn Tuần Giáo" in metadata["Kỳ 2023 · Chưa có báo cáo hợp lệ"]


def test_run_command_consolidates_the_sample(tmp_path):
    """What `make run` does, in a fresh DAGSTER_HOME and data folder."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "TUANGIAO_DATA_DIR": str(tmp_path / "data"),
           "TUANGIAO_PDF": "0"}  # test_pdf_set renders; the PDF's line is in test_the_summary_names_the_pdf_or_why_not
    completed = subprocess.run(
        [sys.executable, "-m", "assets", "run", "--inbox", str(ROOT / "data" / "sample"), "--period", "2023",
         "--clock", "2023-08-10T17:00:00"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = tmp_path / "data" / "out" / "2023"
    lines = completed.stdout.splitlines()
    # Issue 27.8: a line per unit, then a short summary: the counts, where the set, its PDF and the draft are
    assert len(lines) == 23 + 4 and completed.stderr == ""
    assert all(line.startswith("Kỳ 2023 · ") and line.endswith(": Hợp lệ (0 lỗi, 0 cảnh báo)") for line in lines[:23])
    assert lines[23:] == ["Kỳ 2023: 23 đơn vị – 23 hợp lệ, 0 có lỗi, 0 chưa nộp.", f"  Bộ biểu: {out}/",
                          "  Bản PDF để in: không ghi (TUANGIAO_PDF=0).",
                          f"  Dự thảo báo cáo: {out}/Bao_cao_danh_gia_2023.docx"]
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()
    os.environ["DAGSTER_HOME"], home = str(tmp_path / "dagster_home"), os.environ.get("DAGSTER_HOME")
    try:
        instance = dg.DagsterInstance.get()
        headline = instance.get_latest_materialization_event(dg.AssetKey("district_consolidation")).asset_materialization
        rows = {r.data["Chỉ tiêu"]: r.data["Toàn huyện"] for r in headline.metadata["Kỳ 2023 · Số liệu chính"].records}
        assert rows["Tổng số hộ"] == "19.336"
        instance.dispose()
    finally:
        os.environ.pop("DAGSTER_HOME") if home is None else os.environ.update(DAGSTER_HOME=home)
    written = sorted(p.name for p in (tmp_path / "data" / "out" / "2023").glob("Bieu_*"))
    assert written == sorted([f"Bieu_{n:02d}_2023.xlsx" for n in range(1, 16)] + ["Bieu_01-15_2023.xlsx", "Bieu_01-15_2023.zip"])
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE is_current AND unit <> ''").fetchone()[0] == 23
        assert conn.execute("SELECT COUNT(*) FROM submissions WHERE is_current AND unit = ''").fetchone()[0] == 1
        received = conn.execute("SELECT DISTINCT received_at FROM submissions").fetchall()
    assert [str(r[0]) for r in received] == ["2023-08-10 17:00:00"]


def test_the_definitions_are_built_for_their_settings():
    built = build_defs(Settings(batch_level="district", sensor_seconds=7))
    partitions = built.get_assets_def("unit_submission").partitions_def
    # the district until 30/6/2025, then the province (communes have no district), by period
    assert sorted(partitions.get_partition_keys()) == [f"{batch}|{year}" for batch in ("099", "11") for year in range(2021, 2026)]
    assert {built.resolve_sensor_def(name).minimum_interval_seconds for name in ("inbox_sensor", "automation_sensor")} == {7}
    assert built.resources["settings"].batch_level == "district"


def test_run_flags_make_the_partitions_without_touching_the_environment(tmp_path, sample_files, monkeypatch, capsys):
    """`python -m assets run --units FILE --batch district`: the partitions are the file's districts,
    and the process's environment is as it was (nothing steers an import through it)."""
    lines = (ROOT / "pipeline" / "catalogue" / "units.csv").read_text(encoding="utf-8").splitlines()
    town = next(line for line in lines if line.startswith("03253,"))
    other = town.replace("03253", "99901").replace(",099,Huyện Tuần Giáo,", ",098,Huyện Thử Nghiệm,")
    (tmp_path / "units.csv").write_text("\n".join([lines[0], town, other]) + "\n", encoding="utf-8")
    (tmp_path / "inbox" / "2023").mkdir(parents=True)
    shutil.copy(next(p for p in sample_files if p.name.startswith("03253")), tmp_path / "inbox" / "2023")
    for name, value in (("DAGSTER_HOME", tmp_path / "home"), ("TUANGIAO_DATA_DIR", tmp_path / "data"),
                        ("TUANGIAO_PDF", "0")):
        monkeypatch.setenv(name, str(value))
    before = dict(os.environ)
    assert assets_main(["run", "--inbox", str(tmp_path / "inbox"), "--units", str(tmp_path / "units.csv"),
                        "--batch", "district", "--period", "2023", "--clock", "2023-08-10T17:00:00"]) == 0
    assert dict(os.environ) == before
    output = capsys.readouterr().out
    assert "[1/2] Kỳ 2023 · 03253 – Thị trấn Tuần Giáo: Hợp lệ (0 lỗi" in output  # a district per run
    assert "[2/2] Kỳ 2023 · 99901 – Thị trấn Tuần Giáo: Chưa nộp (0 lỗi" in output
    instance = dg.DagsterInstance.get()
    runs = instance.get_runs(dg.RunsFilter(job_name="submission_job"))
    assert sorted(run.tags["dagster/partition"] for run in runs) == ["098|2023", "099|2023"]


def test_workspace_yaml_loads_the_code_location(tmp_path):
    """What `dagster dev -w workspace.yaml` loads."""
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    completed = subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Validation successful for code location definitions.py" in completed.stderr + completed.stdout


def test_bieu_assets_publish_with_metadata(data_dir):
    for unit in ("03259", "099-TCKH"):
        _materialize([unit_submission], data_dir, submission_key("2023", unit, UNIT))
    result = _materialize([district_plan, district_consolidation, publish_bieu], data_dir)
    assert result.success
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert {f"bieu_{n:02d}" for n in range(1, 16)} <= set(events)
    bieu_01 = events["bieu_01"]
    assert bieu_01["Kỳ 2023 · Tải về"].value == "/tep/2023/Bieu_01_2023.xlsx"
    assert bieu_01["Kỳ 2023 · Đầy đủ"].value == "Chưa" and "Thị trấn Tuần Giáo" in bieu_01["Kỳ 2023 · Còn thiếu"].value
    first = bieu_01["Kỳ 2023 · Xem trước"].records[0].data
    assert [first[c.name] for c in bieu_01["Kỳ 2023 · Xem trước"].schema.columns][:3] == ["1", "Tỷ lệ hộ nghèo", "%"]
    # Phình Sáng and the total: Phòng Tài chính – Kế hoạch reports form 14 with nothing in it, and is left out
    assert events["bieu_14"]["Kỳ 2023 · Số dòng"].value == 2
    assert events["district_plan"]["Kỳ 2023 · Trạng thái"].value == "Chưa nộp"
    draft = events["bao_cao_danh_gia"]  # the report's draft, published with the Biểu and linked
    assert draft["Kỳ 2023 · Tải về"].value == "/can-bo/tep/2023/Bao_cao_danh_gia_2023.docx"  # officers only
    assert (data_dir / "out" / "2023" / "Bao_cao_danh_gia_2023.docx").is_file()
    assert "Thị trấn Tuần Giáo" in draft["Kỳ 2023 · Còn thiếu"].value
    stored = [v for m in events.values() for v in m.values()]
    assert not any(isinstance(v, (dg.PathMetadataValue, dg.UrlMetadataValue, dg.MarkdownMetadataValue)) for v in stored)


def test_a_file_for_a_closed_period_says_so_to_its_sender(data_dir, sample_files, capsys):
    """Issue 25.7: the terminal line (the materialization's state), the check, the unit's feedback,
    the intake status the page reads: each says the period is closed and names the file."""
    import json

    from pipeline.cli import main as cli_main

    assert _metadata(_materialize([unit_submission], data_dir, "2023|03259"))["Trạng thái"] == "Hợp lệ"
    inbox = data_dir / "inbox" / "2023"
    for other in inbox.iterdir():
        if not other.name.startswith("03259"):
            other.unlink()  # nothing else waits for intake: the period can be closed
    os.environ["TUANGIAO_CLOCK"] = "2023-08-10T17:00:00"
    try:
        assert cli_main(["close-period", "2023", *CLOSING, "--data", str(data_dir)]) == 0
    finally:
        del os.environ["TUANGIAO_CLOCK"]
    source = next(p for p in sample_files if p.name.startswith("03259"))
    workbook = openpyxl.load_workbook(source)
    workbook["01 Chỉ tiêu"]["E5"] = 1900
    workbook.save(inbox / "03259-sau-khoa-so.xlsx")
    result = _materialize([unit_submission], data_dir, "2023|03259")
    metadata = _metadata(result)
    told = 'Kỳ 2023 đã khóa sổ: không nhận tệp "03259-sau-khoa-so.xlsx" (số liệu đã khóa sổ: hợp lệ)'
    assert metadata["Trạng thái"] == told and metadata["Số lỗi"] == 1
    check = _check(result)
    assert not check.passed
    assert any("kỳ 2023 đã khóa sổ, không nhận thêm báo cáo" in r.data["Nội dung"] for r in check.metadata["Phát hiện"].records)
    feedback = data_dir / "out" / "2023" / "phan-hoi" / "phan-hoi-03259-2023.xlsx"
    cells = [c for row in openpyxl.load_workbook(feedback).active.iter_rows(values_only=True) for c in row if c]
    assert any("kỳ 2023 đã khóa sổ, không nhận thêm báo cáo" in str(c) for c in cells)
    [unit] = [u for u in json.loads((data_dir / "out" / "2023" / "tiep-nhan.json").read_text(encoding="utf-8"))["units"]
              if u["code"] == "03259"]
    assert unit["label"] == told and unit["feedback"] == "phan-hoi/phan-hoi-03259-2023.xlsx"
    assert unit["file_name"] == "03259-sau-khoa-so.xlsx"
    os.environ["TUANGIAO_DATA_DIR"] = str(data_dir)
    try:  # `assets run` without --period says which periods it skips (it used to be silent)
        assert assets_main(["run"]) == 0
    finally:
        del os.environ["TUANGIAO_DATA_DIR"]
    said = capsys.readouterr().out
    assert "Bỏ qua kỳ đã khóa sổ: 2023" in said and "Không có kỳ báo cáo nào đang mở" in said


INJECTED = "[Bấm vào đây](http://x) ![x](http://y/p.png) | cột thừa"


def test_a_cell_s_text_reaches_dagster_as_plain_text(data_dir):
    """Issue 26.8: what a unit typed in a cell is a table cell's text in Dagster (which the UI
    writes as text), never Markdown that makes a link, a remote image or breaks the table."""
    path = data_dir / "inbox" / "2023" / "03253-thi-tran-tuan-giao.xlsx"
    workbook = openpyxl.load_workbook(path)
    workbook["01 Chỉ tiêu"]["E5"] = INJECTED
    workbook.save(path)
    result = _materialize([unit_submission], data_dir, submission_key("2023", "03253", UNIT))
    check = _check(result)
    findings = check.metadata["Phát hiện"]
    assert isinstance(findings, dg.TableMetadataValue)
    [row] = [record.data for record in findings.records if record.data["Ô"] == "E5"]
    assert row["Giá trị"] == INJECTED  # whole, in its own cell: the "|" made no new column
    assert set(row) == {column.name for column in findings.schema.columns}
    assert INJECTED in row["Nội dung"]
    stored = [*check.metadata.values(), *result.get_asset_materialization_events()[0].materialization.metadata.values()]
    assert not any(isinstance(v, (dg.MarkdownMetadataValue, dg.UrlMetadataValue)) for v in stored)


def test_an_invalid_unit_fails_its_check_and_names_itself_on_its_run(data_dir):
    """Issue 26.11: the invalid unit's check fails with severity ERROR (the run still succeeds: the
    submission is recorded, the others go on), and its run carries the unit's name beside the
    partition code and its result, as the run list shows them; the valid unit's says so too."""
    path = data_dir / "inbox" / "2023" / "03253-thi-tran-tuan-giao.xlsx"
    workbook = openpyxl.load_workbook(path)
    workbook["01 Chỉ tiêu"]["E5"] = None
    workbook.save(path)
    instance = dg.DagsterInstance.ephemeral()
    broken = _materialize([unit_submission], data_dir, submission_key("2023", "03253", UNIT), instance)
    valid = _materialize([unit_submission], data_dir, submission_key("2023", "03259", UNIT), instance)
    assert broken.success and not _check(broken).passed and _check(broken).severity == dg.AssetCheckSeverity.ERROR
    tags = instance.get_run_by_id(broken.run_id).tags
    assert tags["dagster/partition"] == "2023|03253"
    assert tags[UNIT_TAG] == "03253 – Thị trấn Tuần Giáo" and tags[RESULT_TAG] == "Không hợp lệ"
    assert instance.get_run_by_id(valid.run_id).tags[RESULT_TAG] == "Hợp lệ"


def test_the_page_address_is_the_settings_of_now_and_partitions_have_names():
    """Issue 26.11: no run stores the page's address; the definitions give it, as the settings say
    when the code location loads, and name every partition code in Vietnamese."""
    built = build_defs(Settings(download_url="https://giamngheo.tuangiao.example/"))
    graph = built.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).metadata["Trang tải về"].value == "https://giamngheo.tuangiao.example/"
    names = graph.get(dg.AssetKey("unit_submission")).metadata["Các phân vùng"]
    assert {"Mã phân vùng": "03265", "Tên": "Xã Ta Ma"} in [r.data for r in names.records]
    assert len(names.records) == 25
    district = build_defs(Settings(batch_level="district")).resolve_asset_graph()
    assert sorted((r.data for r in district.get(dg.AssetKey("unit_submission")).metadata["Các phân vùng"].records),
                  key=lambda name: name["Mã phân vùng"]) == [
        {"Mã phân vùng": "099", "Tên": "Huyện Tuần Giáo"}, {"Mã phân vùng": "11", "Tên": "Tỉnh Điện Biên"}]


def test_the_summary_names_the_pdf_or_why_not(tmp_path, monkeypatch):
    """The closing lines of `assets run`: units with errors and missing named, the set marked
    incomplete, the PDF's path or why there is none, paths from the current folder."""
    from assets.__main__ import summary
    from assets.tables import page_route, table

    monkeypatch.chdir(tmp_path)
    units = table(("Mã", "Đơn vị", "Trạng thái"), [
        ("03253", "Thị trấn Tuần Giáo", "Hợp lệ"), ("03259", "Xã Phình Sáng", "Không hợp lệ"),
        ("03260", "Xã Rạng Đông", "Chưa nộp"),
        ("03262", "Xã Mùn Chung", 'Kỳ 2023 đã khóa sổ: không nhận tệp "x.xlsx" (số liệu đã khóa sổ: hợp lệ)')])
    events = {"submission_status": {"Kỳ 2023 · Các đơn vị": units},
              "bieu_01": {"Kỳ 2023 · Tải về": dg.MetadataValue.text(page_route("2023", "Bieu_01_2023.xlsx")),
                          "Kỳ 2023 · Đầy đủ": dg.MetadataValue.text("Chưa"),
                          "Kỳ 2023 · Bộ PDF Biểu 01–15": dg.MetadataValue.text(page_route("2023", "Bieu_01-15_2023.pdf"))},
              "bao_cao_danh_gia": {"Kỳ 2023 · Tải về": dg.MetadataValue.text(page_route("2023", "Bao_cao_danh_gia_2023.docx"))}}
    folder = tmp_path / "data" / "out" / "2023"
    assert summary(events, "2023", folder) == [
        "Kỳ 2023: 4 đơn vị – 1 hợp lệ, 2 có lỗi (03259 – Xã Phình Sáng, 03262 – Xã Mùn Chung), "
        "1 chưa nộp (03260 – Xã Rạng Đông).",
        "  Bộ biểu: data/out/2023/ (số liệu chưa đầy đủ)",
        "  Bản PDF để in: data/out/2023/Bieu_01-15_2023.pdf",
        "  Dự thảo báo cáo: data/out/2023/Bao_cao_danh_gia_2023.docx"]
    del events["bieu_01"]["Kỳ 2023 · Bộ PDF Biểu 01–15"]
    events["bieu_01"]["Kỳ 2023 · Bản PDF để in"] = dg.MetadataValue.text("Không ghi bản PDF của các biểu: ổ đĩa đầy.")
    assert summary(events, "2023", folder)[2] == "  Bản PDF để in: Không ghi bản PDF của các biểu: ổ đĩa đầy."


def _hostile_copy(source, target):
    """``source`` with an XML entity declaration in a form's sheet: refused whole by the byte inspection."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename == "xl/worksheets/sheet3.xml":
                data = data.replace(b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><worksheet', 1)
            copy.writestr(info, data)


def test_a_burst_of_files_is_one_run_and_every_unit_keeps_its_partition(tmp_path, sample_files):
    """Issue 29.1: the 24 sample files arriving at once are one run for the period (intake and
    publication), not a run per unit; each unit still has its own partition materialization and
    check result (03265, made invalid, fails its check; the others pass); a file replaced by a
    hostile one between the sensor's look and the run fails only its own unit."""
    inbox = tmp_path / "inbox" / "2023"
    inbox.mkdir(parents=True)
    for path in sample_files:
        shutil.copy(path, inbox / path.name)
    invalid = inbox / "03265-xa-ta-ma.xlsx"
    workbook = openpyxl.load_workbook(invalid)
    workbook["01 Chỉ tiêu"]["E5"] = None
    workbook.save(invalid)
    for path in inbox.iterdir():
        os.utime(path, (1_700_000_000, 1_700_000_000))  # long ago: every file is stable
    settings = Settings(data_dir=str(tmp_path), fixed_clock="2023-08-10T17:00:00", pdf=False)
    built = build_defs(settings)
    with dg.instance_for_test() as instance:
        sensor = built.resolve_sensor_def("inbox_sensor")
        looked = sensor(dg.build_sensor_context(instance=instance, resources={"settings": PipelineSettings.of(settings)}))
        requests = looked.run_requests
        [burst] = requests  # the plan too is taken in by the period's one run
        assert burst.job_name == "arrivals_job"
        units = burst.run_config["ops"]["inbox_catch_up"]["config"]["units"]
        assert sorted(units) == sorted(u.code for u in settings.catalogue.units_in("2023")) and len(units) == 23
        assert burst.tags[UNIT_TAG] == ("23 đơn vị kỳ 2023: 03253 – Thị trấn Tuần Giáo, 03259 – Xã Phình Sáng, "
                                        "03260 – Xã Rạng Đông và 20 đơn vị khác")  # as the run list shows it
        raced = inbox / "03259-xa-phinh-sang.xlsx"
        _hostile_copy(sample_files[1], raced)  # replaced after the look, before the run
        assert sample_files[1].name == raced.name
        result = built.resolve_job_def("arrivals_job").execute_in_process(
            run_config=burst.run_config, tags=burst.tags, instance=instance, raise_on_error=False)
        assert result.success
        assert [run.job_name for run in instance.get_runs()] == ["arrivals_job"]
        keys = {submission_key("2023", unit, UNIT) for unit in units}
        assert instance.get_materialized_partitions(dg.AssetKey("unit_submission")) == keys
        states = {e.partition: e.materialization.tags[STATE_TAG] for e in result.get_asset_materialization_events()
                  if e.asset_key == dg.AssetKey("unit_submission")}
        assert states == {key: "hop_le" for key in keys} | {"2023|03265": "khong_hop_le", "2023|03259": "chua_nop"}
        check = dg.AssetCheckKey(dg.AssetKey("unit_submission"), "valid_submission")
        [state] = instance.event_log_storage.get_asset_check_state([(check, unit_submission.partitions_def)]).values()
        status = {s: set(subset.subset_value.get_partition_keys()) for s, subset in state.subsets.items()}
        assert status[AssetCheckExecutionResolvedStatus.FAILED] == {"2023|03265", "2023|03259"}
        assert status[AssetCheckExecutionResolvedStatus.SUCCEEDED] == keys - {"2023|03265", "2023|03259"}
        checks = {c.partition: c for c in result.get_asset_check_evaluations()}
        assert checks["2023|03265"].severity == dg.AssetCheckSeverity.ERROR
        assert checks["2023|03265"].metadata["Số lỗi"].value >= 1
        run = instance.get_run_by_id(result.run_id)
        assert run.tags[RESULT_TAG] == "Không hợp lệ" and run.tags[UNIT_TAG] == burst.tags[UNIT_TAG]
        order = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()]
        assert order.index("inbox_catch_up") < order.index("district_consolidation")  # in the same run, after it
        assert {"bieu_01", "submission_status"} <= set(order)
        published = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
        assert published["district_consolidation"]["Kỳ 2023 · Số đơn vị hợp lệ"].value == 21
        assert published["district_plan"]["Kỳ 2023 · Trạng thái"].value != "Chưa nộp"
    status_file = json.loads((tmp_path / "out" / "status.json").read_text(encoding="utf-8"))
    [period] = [p for p in status_file["periods"] if p["key"] == "2023"]
    by_unit = {u["code"]: u["state"] for u in period["units"]}
    assert by_unit["03265"] == "khong_hop_le" and by_unit["03259"] == "chua_nop"
    assert sum(state == "hop_le" for state in by_unit.values()) == 21
    assert (tmp_path / "out" / "2023" / "Bieu_01_2023.xlsx").exists()
