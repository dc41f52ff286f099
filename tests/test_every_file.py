"""Every file a unit may send (issue 15): .ods and .xls saved by real LibreOffice read like the
.xlsx original; their bombs refused by the byte inspection; a file that makes the reader
abort natively or hang becomes a finding while the caller and the other files live on;
feedback names, ``read`` output and the decimal-point hint."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import olefile
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from pipeline.catalogue import default_catalogue
from pipeline.checking.feedback import feedback_name
from pipeline.checking.findings import NOT_NUMBER, OUT_OF_RANGE, READER_CRASHED
from pipeline.checking.validation import CheckResult, check_file, check_files
from pipeline.intake.inbox import scan_inbox
from pipeline.parallel import TIMED_OUT, parallel_map
from pipeline.tools.corpus import _rewrite, _sheet_part
from pipeline.tools.sample import sample_values
from pipeline.text import FindingType
from pipeline.workbook.reader import read_identity, read_workbook
from pipeline.workbook.template import Filling, write_unit_workbook
from pipeline.workbook.unreadable import BROKEN_ZIP, DAMAGED_PART, MACROS, PASSWORD, SHEET_TOO_LARGE
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "sample" / "2023" / "03259-xa-phinh-sang.xlsx"


@pytest.fixture(scope="session")
def office_copies(tmp_path_factory) -> dict[str, Path]:
    """The filled sample as LibreOffice saves it in its own format and as Excel 97-2003, and
    as Excel 97-2003 with "EncryptionInfo" typed in its preparer's name ("typed")."""
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = tmp_path_factory.mktemp("office")
    profile = (out / "profile").as_uri()
    catalogue = default_catalogue()
    typed = write_unit_workbook(out / "go-chu.xlsx", catalogue, catalogue.unit("03259"), Filling(
        {"MA_DON_VI": "03259", "KY_BAO_CAO": "2023", "NGUOI_LAP": "Lò Văn Minh (EncryptionInfo)"},
        sample_values(catalogue)["03259"]))
    for kind, sources in (("ods", [SAMPLE]), ("xls", [SAMPLE, typed])):
        subprocess.run([soffice, "--headless", f"-env:UserInstallation={profile}", "--convert-to", kind,
                        "--outdir", str(out), *map(str, sources)], check=True, capture_output=True, timeout=180)
    return {"ods": out / f"{SAMPLE.stem}.ods", "xls": out / f"{SAMPLE.stem}.xls", "typed": out / "go-chu.xls"}


@pytest.mark.parametrize("kind", ["ods", "xls"])
def test_libreoffice_ods_and_xls_read_like_the_xlsx(catalogue, office_copies, kind):
    original = read_workbook(SAMPLE, catalogue)
    copy = read_workbook(office_copies[kind], catalogue)
    assert read_identity(office_copies[kind]) == read_identity(SAMPLE)
    assert [(c.ref, c.cell, c.value, c.problem) for c in copy.cells] == \
        [(c.ref, c.cell, c.value, c.problem) for c in original.cells]
    assert len(copy.cells) > 100
    result = check_file(catalogue, office_copies[kind], "2023")
    assert result.accepted and result.findings == check_file(catalogue, SAMPLE, "2023").findings


def test_the_inbox_knows_whose_ods_and_xls_are(office_copies, tmp_path):
    folder = tmp_path / "inbox" / "2023"
    folder.mkdir(parents=True)
    for path in office_copies.values():
        shutil.copy(path, folder)
    identities = {f.path.suffix: f.identity for f in scan_inbox(tmp_path / "inbox", "2023")}
    assert {s: i.unit_code for s, i in identities.items()} == {".ods": "03259", ".xls": "03259"}


def _refused(catalogue, path: Path, kind: FindingType) -> str:
    result = check_file(catalogue, path, "2023")
    assert result.submission is None and [f.code for f in result.findings] == [kind.code]
    assert f'"{path.name}"' in result.findings[0].message
    return result.findings[0].message


def test_an_ods_repeat_bomb_is_refused_before_any_reader(catalogue, office_copies, tmp_path):
    """One row that holds values, repeated 20.000 times over 1.000 columns (29 KB on disk)."""
    bomb = tmp_path / "lap-lai.ods"

    def repeat(name: str, data: bytes) -> bytes:
        if name != "content.xml":
            return data
        row = re.search(rb"<table:table-row[^>]*>(?=(?:(?!</table:table-row>).)*office:value-type)", data, re.S)
        start = row.start() + len(b"<table:table-row")
        data = data[:start] + b' table:number-rows-repeated="20000"' + data[start:]
        cell = data.index(b"office:value-type", start)
        return data[:cell] + b'table:number-columns-repeated="1000" ' + data[cell:]

    _rewrite(office_copies["ods"], bomb, repeat)
    assert "sheet quá lớn" in _refused(catalogue, bomb, SHEET_TOO_LARGE)


def test_a_real_ods_with_a_million_empty_repeated_rows_is_fine(office_copies):
    content = zipfile.ZipFile(office_copies["ods"]).read("content.xml")
    assert b'number-rows-repeated="10485' in content  # what LibreOffice writes after the last row


def test_an_xls_with_a_huge_dimension_is_refused(catalogue, office_copies, tmp_path):
    data = bytearray(office_copies["xls"].read_bytes())
    record = data.index(b"\x00\x02\x0e\x00")  # DIMENSIONS, 14 bytes: first row, last row + 1 (u32), ...
    struct.pack_into("<I", data, record + 8, 1_000_000)
    huge = tmp_path / "kich-thuoc-lon.xls"
    huge.write_bytes(bytes(data))
    assert "sheet quá lớn" in _refused(catalogue, huge, SHEET_TOO_LARGE)


def test_an_xls_with_encryption_info_typed_in_a_cell_is_read(catalogue, office_copies):
    """The word is in the file as UTF-16 text (a Vietnamese string is stored so), yet the file
    has no EncryptionInfo stream and no FILEPASS record: it is not password-protected."""
    assert "EncryptionInfo".encode("utf-16-le") in office_copies["typed"].read_bytes()
    result = check_file(catalogue, office_copies["typed"], "2023")
    assert result.accepted, [f.message for f in result.findings]
    assert read_workbook(office_copies["typed"], catalogue).info["NGUOI_LAP"][0] == "Lò Văn Minh (EncryptionInfo)"


def test_a_password_protected_xlsx_is_refused(catalogue, tmp_path):
    """Encrypted as Excel does it (ECMA-376 agile encryption): an OLE file holding the package."""
    encrypted = tmp_path / "dat-mat-khau.xlsx"
    with SAMPLE.open("rb") as source, encrypted.open("wb") as target:
        OOXMLFile(source).encrypt("Tuần Giáo 2023", target)
    assert "đặt mật khẩu" in _refused(catalogue, encrypted, PASSWORD)


def test_an_xls_with_a_filepass_record_is_refused(catalogue, office_copies, tmp_path):
    """Excel 97-2003 marks an encrypted workbook with a FILEPASS record after the first BOF."""
    locked = Path(shutil.copy(office_copies["xls"], tmp_path / "dat-mat-khau.xls"))
    with olefile.OleFileIO(str(locked), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        bof_length = struct.unpack_from("<H", stream, 2)[0]
        struct.pack_into("<H", stream, 4 + bof_length, 0x002F)  # the record after the BOF becomes FILEPASS
        ole.write_stream("Workbook", bytes(stream))
    assert "đặt mật khẩu" in _refused(catalogue, locked, PASSWORD)


def test_xlsm_is_refused_with_what_to_do(catalogue):
    macros = ROOT / "tests" / "corpus" / "hostile" / "co-macro.xlsm"
    assert "Excel 2007-365 (.xlsx)" in _refused(catalogue, macros, MACROS)


def _aborting(tmp_path: Path) -> Path:
    """A reference spelled with single quotes at the last cell Excel has: the reader tries to
    allocate the whole grid (512 GB) and aborts the process."""
    part = _sheet_part(SAMPLE, "01 Chỉ tiêu")
    out = tmp_path / "lam-hong.xlsx"
    _rewrite(SAMPLE, out, lambda name, data: data.replace(
        b"</sheetData>", b"<row r='1048576'><c r='XFD1048576'><v>1</v></c></row></sheetData>") if name == part else data)
    return out


def test_a_file_that_aborts_the_reader_is_a_finding_and_the_others_are_read(catalogue, tmp_path):
    crasher = _aborting(tmp_path)
    results = check_files(catalogue, [SAMPLE, crasher, SAMPLE, SAMPLE], "2023", workers=2)
    assert [r.accepted for r in results] == [True, False, True, True]
    (crashed,) = results[1].findings
    assert crashed.code == READER_CRASHED.code and '"lam-hong.xlsx" làm hỏng bộ đọc' in crashed.message
    assert check_file(catalogue, SAMPLE, "2023").accepted  # the replaced worker reads on


def test_the_cli_survives_a_reader_abort(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "pipeline", "check", str(_aborting(tmp_path))], cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "làm hỏng bộ đọc" in completed.stdout and "Traceback" not in completed.stdout + completed.stderr
    assert "stack backtrace" not in completed.stderr


def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.mark.slow
def test_an_item_past_the_time_limit_fails_alone():
    # the limit leaves room for a worker to start on a loaded machine; the sleeper would take 10 minutes
    results = parallel_map(sleepy, [0.0, 600.0, 0.0], 2, failed=lambda item, cause: cause, time_limit=10.0)
    assert results == [0.0, TIMED_OUT, 0.0]


def test_non_finite_and_huge_numbers_are_errors_that_format_quickly(catalogue, tmp_path):
    part = _sheet_part(SAMPLE, "01 Chỉ tiêu")
    out = tmp_path / "so-la.xlsx"
    inline = "<c r=\"{}\" t=\"inlineStr\"><is><t>{}</t></is></c>"

    def change(name: str, data: bytes) -> bytes:
        if name != part:
            return data
        for cell, text in (("E5", "9E+99999999"), ("E6", "NaN"), ("E7", "176.36")):
            data = re.sub(rb'<c r="%s"[^>]*?(/>|>.*?</c>)' % cell.encode(), inline.format(cell, text).encode(), data,
                          count=1, flags=re.S)
        return data

    _rewrite(SAMPLE, out, change)
    result = check_file(catalogue, out, "2023")
    found = {f.cell: f for f in result.findings if f.sheet == "01 Chỉ tiêu"}
    assert (found["E5"].code, found["E6"].code) == (OUT_OF_RANGE.code, OUT_OF_RANGE.code)
    assert found["E7"].code == NOT_NUMBER.code and "dấu phẩy" in found["E7"].message and "176,36" in found["E7"].message


def test_unreadable_files_get_unique_stable_feedback_names(tmp_path):
    names = {feedback_name(CheckResult(tmp_path / n, None)) for n in ("bao-cao-phinh-sang.ods", "bao-cao-phinh-sang.xls",
                                                                        "x" * 50 + "a.xlsx", "x" * 50 + "b.xlsx")}
    assert len(names) == 4
    assert feedback_name(CheckResult(tmp_path / "bao-cao-phinh-sang.ods", None)) in names


def test_read_prints_values_as_held_and_survives_a_closed_pipe():
    completed = subprocess.run(f"{sys.executable} -m pipeline read {SAMPLE} | head -2", shell=True, cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
    assert "Traceback" not in completed.stderr and "BrokenPipe" not in completed.stderr
    header, first = completed.stdout.splitlines()
    assert first.split()[:6] == ["2023", "03259", "01", "HO_TONG", "GIA_TRI", "925"]


def test_a_corrupted_deflate_stream_is_a_clear_refusal(catalogue, tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(_sheet_part(SAMPLE, "01 Chỉ tiêu"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 10, start + info.compress_size - 10, 7):
        data[offset] ^= 0x55
    damaged = tmp_path / "hong-khi-chep.xlsx"
    damaged.write_bytes(bytes(data))
    assert "bị hỏng" in _refused(catalogue, damaged, DAMAGED_PART)


@pytest.mark.parametrize("part", ["xl/workbook.xml", "sheet"])
def test_a_part_that_does_not_match_its_checksum_is_refused(catalogue, tmp_path, part):
    """A changed byte that still inflates (here in a stored part) is caught by the part's CRC,
    for a part read whole (a sheet) and for a small part read for its prolog alone."""
    member = _sheet_part(SAMPLE, "01 Chỉ tiêu") if part == "sheet" else part
    buffer = io.BytesIO()
    with zipfile.ZipFile(SAMPLE) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode())
    quote = data.index(b'"', start, start + info.compress_size)
    data[quote - 1] ^= 0x01  # a letter of an attribute value: still well-formed XML
    damaged = tmp_path / "sai-tong-kiem.xlsx"
    damaged.write_bytes(bytes(data))
    assert "tệp nén không đọc được" in _refused(catalogue, damaged, BROKEN_ZIP)


def test_a_directory_that_overstates_a_compressed_size_is_read_as_zipfile_reads_it(catalogue, tmp_path):
    """A deflate stream ends itself: a directory entry claiming more compressed bytes than the
    part has (seen in fuzzing) does not make an intact workbook unreadable."""
    data = bytearray(SAMPLE.read_bytes())
    name = _sheet_part(SAMPLE, "01 Chỉ tiêu").encode()
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46:entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 20, struct.unpack_from("<I", data, entry + 20)[0] + 100_000)
    overstated = tmp_path / "kich-thuoc-sai.xlsx"
    overstated.write_bytes(bytes(data))
    with zipfile.ZipFile(overstated) as archive:
        assert archive.read(name.decode()) == zipfile.ZipFile(SAMPLE).read(name.decode())  # zipfile reads it whole
    assert check_file(catalogue, overstated).accepted
