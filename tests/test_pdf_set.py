"""The print-ready PDF set, rendered by a real LibreOffice: every Biểu and the all-in-one
workbook as PDF in the published set, Vietnamese number separators whatever the machine's
locale, their lasting names, the links of the page and of the Dagster UI; and without
LibreOffice, or with one that hangs, the workbooks published alone with the reason told."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import dagster as dg
import pytest
from starlette.testclient import TestClient

from assets.publication import publish_bieu
from assets.resources import PipelineSettings
from pipeline.office import Office
from pipeline.publication.publish import CURRENT, SETS, publish_period
from pipeline.publication.status import write_status
from pipeline.settings import Settings
from pipeline.warehouse import connect
from pipeline.web.app import create_app
from tests.conftest import ROOT, needs_libreoffice, needs_render, officer_client, sample_taken_in

T0 = dt.datetime(2023, 8, 10, 8, 0)
CODES = [f"{n:02d}" for n in range(1, 16)]


@pytest.fixture(scope="module")
def rendered(catalogue, tmp_path_factory):
    """The 2023 sample published by the Dagster asset with its PDFs: (data folder, metadata by asset, seconds)."""
    if Office().program is None:
        pytest.skip("LibreOffice (soffice) not installed: no PDF set to render")
    data = tmp_path_factory.mktemp("data")
    sample_taken_in(catalogue, tmp_path_factory, data, T0)
    settings = PipelineSettings(data_dir=str(data), fixed_clock="2023-08-10T17:00:00", pdf=True)
    started = time.monotonic()
    result = dg.materialize([publish_bieu], resources={"settings": settings}, instance=dg.DagsterInstance.ephemeral())
    seconds = time.monotonic() - started
    events = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    return data, events, seconds


def _period_page(catalogue, data):
    """The officer's page of 2023, once status.json lists the periods (as the status asset writes it)."""
    with connect(data / "warehouse.duckdb") as conn:
        write_status(catalogue, conn, data / "out", dt.date(2023, 8, 10))
    client = officer_client(create_app(data, settings=Settings(data_dir=str(data))), data)
    return client, client.get("/ky/2023").text


def _text(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@needs_libreoffice
def test_the_set_holds_a_readable_pdf_of_every_bieu(rendered):
    data, _, seconds = rendered
    current = data / "out" / "2023" / SETS / CURRENT
    pdfs = sorted(p.name for p in current.glob("*.pdf"))
    assert pdfs == sorted([f"Bieu_{code}_2023.pdf" for code in CODES] + ["Bieu_01-15_2023.pdf", "Nguon_so_lieu_2023.pdf"])
    # LibreOffice converted all 16 workbooks, each to a real document (test_publish's check, merged here)
    assert all((current / name).stat().st_size > 5000 for name in pdfs)
    for code in CODES:
        text = _text(current / f"Bieu_{code}_2023.pdf")
        assert f"Biểu số {code}" in text and "UBND HUYỆN TUẦN GIÁO" in text, code
    everything = _text(current / "Bieu_01-15_2023.pdf")
    assert all(f"Biểu số {code}" in everything for code in CODES)
    # Vietnamese separators, whatever this machine's locale: Biểu 02's total capital, 132,310 million đồng
    bieu_02 = _text(current / "Bieu_02_2023.pdf")
    assert "132.310,00" in bieu_02 and "13.334,47" in bieu_02 and "98.468,00" not in bieu_02  # one format a column
    assert not (current / ".pdf").exists()  # the rendering folder is gone
    print(f"publication with its PDF set: {seconds:.1f} s")


def _fonts(pdf) -> set[str]:
    """The fonts a PDF embeds, by name without the subset tag ("BAAAAA+LiberationSerif-Bold")."""
    listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True, timeout=60).stdout
    return {line.split()[0].partition("+")[2] or line.split()[0] for line in listing.splitlines()[2:] if line.strip()}


@needs_render
def test_every_pdf_is_set_in_one_typeface_with_whole_vietnamese_words(rendered):
    """Liberation Serif 2.x (fonts-liberation2: Times New Roman's metrics and every Vietnamese
    letter) for everything; with 1.07, which lacks U+1EA0–1EF9, "ạ", "ầ", "ệ" came from DejaVu
    Serif and the text layer split the words ("Đ ạt", "huy ện Tu ần")."""
    data, _, _ = rendered
    current = data / "out" / "2023" / SETS / CURRENT
    pdfs = sorted(current.glob("*.pdf"))
    assert len(pdfs) == len(CODES) + 2  # and the all-in-one, the sources annex
    for pdf in pdfs:
        fonts = _fonts(pdf)
        assert fonts and {name.partition("-")[0] for name in fonts} == {"LiberationSerif"}, (pdf.name, fonts)
        words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                               timeout=60).stdout.split()
        assert "Tuần" in words and ("huyện" in words or pdf.name.startswith("Nguon")), pdf.name
    assert "Đạt" in _text(current / "Bieu_01_2023.pdf").split()


@needs_render
def test_the_sources_are_an_annex_of_their_own(rendered, sample_files):
    """Which file of each unit was used, and the remarks meant for the district's staff, are
    printed in the annex, not after the signature of a Biểu."""
    data, _, _ = rendered
    folder = data / "out" / "2023"
    annex = subprocess.run(["pdftotext", "-raw", str(folder / "Nguon_so_lieu_2023.pdf"), "-"], capture_output=True,
                           text=True, check=True, timeout=60).stdout  # a cell's lines together
    assert "NGUỒN SỐ LIỆU CỦA CÁC BIỂU" in annex and "Mã băm" in annex
    assert all(path.name in "".join(annex.split()) for path in sample_files if path.name[0].isdigit())  # the units
    assert "Chưa có số liệu thực hiện năm trước" in " ".join(annex.split())
    assert (folder / "Nguon_so_lieu_2023.xlsx").resolve().is_file()
    with zipfile.ZipFile(folder / "Bieu_01-15_2023.zip") as archive:
        assert "Nguon_so_lieu_2023.xlsx" in archive.namelist()


def _fake_soffice(tmp_path, script: str):
    fake = tmp_path / "soffice"
    fake.write_text("#!/bin/sh\nwhile [ \"$1\" != --outdir ]; do shift; done\nout=$2; shift 2\n" + script, encoding="utf-8")
    fake.chmod(0o755)
    return fake


def test_pdfs_cut_short_are_never_published(catalogue, tmp_path, tmp_path_factory):
    """A LibreOffice that ends well but leaves every PDF cut short (a full disk, a kill): the
    set goes out without PDFs and the page says why."""
    fake = _fake_soffice(tmp_path, 'for f in "$@"; do printf "%%PDF-1.7\\n1 0 obj" > "$out/$(basename "$f" .xlsx).pdf"; done\n')
    data, publication = _published_without(catalogue, tmp_path, tmp_path_factory, Office(str(fake)))
    assert "LibreOffice không ghi được Bieu_01_2023.pdf" in publication.pdf_note
    _, page = _period_page(catalogue, data)
    assert "Chưa có bản PDF để in: Không ghi bản PDF của các biểu" in page


@pytest.fixture
def small_disk(tmp_path):
    """A 900 KB tmpfs (root only): room for the workbooks, not for their PDFs."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.slow
@needs_libreoffice
def test_a_full_disk_while_rendering_publishes_no_pdf(catalogue, tmp_path, tmp_path_factory, small_disk):
    data = tmp_path / "data"
    sample_taken_in(catalogue, tmp_path_factory, data, T0)
    _, publication = publish_period(catalogue, data / "warehouse.duckdb", small_disk, "2023", office=Office())
    folder = small_disk / "2023"
    assert publication.pdfs == {} and publication.all_in_one_pdf is None and not list(folder.glob("*.pdf"))
    assert not list((folder / SETS / CURRENT).glob("*.pdf")) and all(p.is_file() for p in publication.files.values())
    assert "đĩa đầy" in publication.pdf_note, publication.pdf_note
    assert json.loads((folder / "status.json").read_text(encoding="utf-8"))["pdf_note"] == publication.pdf_note


@needs_libreoffice
def test_lasting_names_of_the_pdfs_resolve_and_status_lists_them(rendered):
    data, _, _ = rendered
    folder = data / "out" / "2023"
    for name in [f"Bieu_{code}_2023.pdf" for code in CODES] + ["Bieu_01-15_2023.pdf"]:
        assert (folder / name).is_symlink() and os.readlink(folder / name) == f"{SETS}/{CURRENT}/{name}"
        assert (folder / name).resolve().is_file() and (folder / name).read_bytes().startswith(b"%PDF")
    status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    assert status["pdf"] == [f"Bieu_{code}_2023.pdf" for code in CODES] + ["Bieu_01-15_2023.pdf"]


@needs_libreoffice
def test_dagster_metadata_names_the_pdfs_on_the_page(rendered):
    """Their routes on the page: its address is the definitions' (``assets.tables.page_metadata``)."""
    _, events, _ = rendered
    for code in CODES:
        metadata = events[f"bieu_{code}"]
        route = metadata["Kỳ 2023 · Bản PDF để in"]
        assert isinstance(route, dg.TextMetadataValue)
        assert route.value == f"/tep/2023/Bieu_{code}_2023.pdf"
        assert metadata["Kỳ 2023 · Bộ PDF Biểu 01–15"].value == "/tep/2023/Bieu_01-15_2023.pdf"


@needs_libreoffice
def test_every_route_dagster_names_is_served_to_its_audience(catalogue, rendered):
    """A route stored in the metadata opens on the page: the published files to anyone, the
    report's draft to officers only, anyone else sent to sign in (it once pointed to a public route
    that answered 404)."""
    data, events, _ = rendered
    routes = {v.value for metadata in events.values() for v in metadata.values()
              if isinstance(v, dg.TextMetadataValue) and v.value.startswith("/")}
    assert "/can-bo/tep/2023/Bao_cao_danh_gia_2023.docx" in routes
    officer, _ = _period_page(catalogue, data)
    anonymous = TestClient(create_app(data, settings=Settings(data_dir=str(data))), follow_redirects=False)
    with officer, anonymous:
        for route in routes:
            assert officer.get(route).status_code == 200, route
            public = anonymous.get(route).status_code
            assert public == (303 if route.startswith("/can-bo/") else 200), (route, public)  # 303: sign in first


@needs_libreoffice
def test_the_page_links_the_pdfs_next_to_the_workbooks(catalogue, rendered):
    data, _, _ = rendered
    client, page = _period_page(catalogue, data)
    with client:
        for stem in [f"Bieu_{code}_2023" for code in CODES] + ["Bieu_01-15_2023"]:
            assert (f'<span class="note">({stem}.xlsx)</span> · '
                    f'<a href="/tep/2023/{stem}.pdf">Bản PDF để in</a></li>') in page
        assert '(Bieu_01-15_2023.zip)</span></li>' in page  # the zip has no PDF of its own
        response = client.get("/tep/2023/Bieu_07_2023.pdf")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")


def _published_without(catalogue, tmp_path, tmp_path_factory, office):
    """The sample published once with its PDFs' names in place, then again with ``office``."""
    data = tmp_path / "data"
    sample_taken_in(catalogue, tmp_path_factory, data, T0)
    out = data / "out"
    publish_period(catalogue, data / "warehouse.duckdb", out, "2023")
    (out / "2023" / "Bieu_01_2023.pdf").symlink_to(f"{SETS}/{CURRENT}/Bieu_01_2023.pdf")  # as an earlier set left it
    _, publication = publish_period(catalogue, data / "warehouse.duckdb", out, "2023", office=office)
    folder = out / "2023"
    assert sorted(publication.files) == CODES and all(p.is_file() for p in publication.files.values())
    assert publication.all_in_one.is_file() and publication.pdfs == {} and publication.all_in_one_pdf is None
    assert not list(folder.glob("*.pdf")) and not list((folder / SETS / CURRENT).glob("*.pdf"))
    assert not (folder / SETS / CURRENT / ".pdf").exists()
    assert json.loads((folder / "status.json").read_text(encoding="utf-8"))["pdf"] == []
    return data, publication


def test_without_libreoffice_the_workbooks_are_published_and_the_reason_told(catalogue, tmp_path, tmp_path_factory):
    data, publication = _published_without(catalogue, tmp_path, tmp_path_factory, Office(str(tmp_path / "khong-co" / "soffice")))
    assert publication.pdf_note.startswith("Không ghi bản PDF của các biểu (vẫn ghi các tệp Excel): Chưa cài LibreOffice")
    _, page = _period_page(catalogue, data)
    assert "(Bieu_01_2023.xlsx)</span></li>" in page and "Bản PDF để in" not in page
    assert "Chưa có bản PDF để in: Không ghi bản PDF của các biểu (vẫn ghi các tệp Excel): Chưa cài LibreOffice" in page


def _hanging_soffice(tmp_path):
    """A LibreOffice that never ends: it and the process it starts write their ids to ``pids``."""
    fake, pids = tmp_path / "soffice", tmp_path / "pids"
    fake.write_text(f"#!/bin/sh\necho $$ >> {pids}\nsleep 120 &\necho $! >> {pids}\nwait\n", encoding="utf-8")
    fake.chmod(0o755)
    return fake, pids


def _all_end(pids, seconds: float = 10) -> None:
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + seconds
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), pid


def test_a_hung_libreoffice_is_stopped_and_the_workbooks_published(catalogue, tmp_path, tmp_path_factory):
    fake, pids = _hanging_soffice(tmp_path)
    started = time.monotonic()
    _, publication = _published_without(catalogue, tmp_path, tmp_path_factory, Office(str(fake), seconds=2))
    assert time.monotonic() - started < 60
    assert "LibreOffice chưa xong sau 2 giây: đã dừng." in publication.pdf_note
    _all_end(pids)  # the fake and what it started


def test_a_hung_libreoffice_is_stopped_even_when_its_publisher_was_killed(tmp_path):
    fake, pids = _hanging_soffice(tmp_path)
    source = tmp_path / "Bieu_01_2023.xlsx"
    source.write_bytes(b"")
    publisher = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from pipeline.office import Office; "
         "Office(sys.argv[1], seconds=3).convert_all([Path(sys.argv[2])], Path(sys.argv[3]), 'pdf')",
         str(fake), str(source), str(tmp_path / "pdf")], cwd=ROOT)
    deadline = time.monotonic() + 30
    while (not pids.exists() or len(pids.read_text().split()) < 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    publisher.kill()  # as a power cut or kill -9 would: no cleanup of its own
    publisher.wait()
    _all_end(pids, seconds=3 + 5 + 10)  # the watchdog's time limit, its grace, a loaded machine


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_pdfs_are_turned_off_by_a_setting():
    assert Settings.from_environment({"TUANGIAO_PDF": "0"}).office is None
    office = Settings.from_environment({"TUANGIAO_SOFFICE": "/opt/lo/soffice", "TUANGIAO_PDF_SECONDS": "42"}).office
    assert office == Office("/opt/lo/soffice", 42.0)


@pytest.mark.slow
@needs_libreoffice
def test_preview_shows_every_bieu_and_a_feedback_workbook(rendered, tmp_path):
    data, _, _ = rendered
    preview = tmp_path / "xem-truoc"
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline", "preview", "--period", "2023", "--folder", str(data / "out" / "2023"),
         "--out", str(preview)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0 and "Traceback" not in completed.stderr, completed.stderr
    pngs = [p.name for p in preview.glob("*.png")]
    for code in CODES:
        assert (preview / f"Bieu_{code}_2023.pdf").read_bytes() == (data / "out" / "2023" / f"Bieu_{code}_2023.pdf").read_bytes()
        assert any(p.startswith(f"Bieu_{code}_2023-") for p in pngs), code
    [feedback] = preview.glob("phan-hoi-*.pdf")  # the sample is all valid: a made-up faulty file's feedback
    assert "KẾT QUẢ KIỂM TRA BÁO CÁO" in _text(feedback) and "KHÔNG ĐƯỢC CHẤP NHẬN" in _text(feedback)
    assert any(p.startswith(feedback.stem) for p in pngs)
