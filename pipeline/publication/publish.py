"""One period's publication: build the reports from the warehouse and publish the set (Biểu
01–15, the all-in-one workbook, the zip, the evaluation report's draft and the period's
status) as one step.

The set is written aside, in a new folder ``out/<period>/.bo-bieu/<version>/``, and switched
in by replacing one symlink, ``.bo-bieu/hien-hanh``; the names people and the page use,
``out/<period>/Bieu_01_<period>.xlsx`` and so on, are fixed links through it. So a kill or a
full disk midway leaves the whole old set in place, and the next publication removes what a
dead one left. ``phan-hoi/`` (feedback) and ``chinh-thuc/`` (a closed period's final set)
are beside the set and never touched by the switch. The final set is built aside too and
renamed into ``chinh-thuc/`` whole.

Where LibreOffice renders them, the set carries a print-ready PDF of every Biểu, of the
all-in-one workbook and of the sources annex (``Bieu_01_2023.pdf`` …, ``Bieu_01-15_2023.pdf``,
``Nguon_so_lieu_2023.pdf``), rendered in one LibreOffice start into the build folder before
the switch: a set has all its PDFs, each written to its end, or none. Without LibreOffice, or
when it fails, takes too long or finds the disk full, the workbooks are published alone and
the publication says why (``Publication.pdf_note``, on the page).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.catalogue import Catalogue
from pipeline.catalogue.batches import UNIT
from pipeline.failpoints import failpoint
from pipeline.files import atomic_output, machine_faults, remove_leftovers
from pipeline.office import Office, OfficeError
from pipeline.publication.report import compose, report_name
from pipeline.publication.report_docx import write_report
from pipeline.publication.signing import signing_for
from pipeline.publication.status import STATUS_FILE, period_status, set_document
from pipeline.publication.tables import Report, build_reports
from pipeline.publication.workbooks import Publication, publish
from pipeline.review import review_mark, sync
from pipeline.settings import WAIT_SECONDS, Places
from pipeline.warehouse import connect, create_schema, plan_info

SETS = ".bo-bieu"  # out/<period>/.bo-bieu/<version>/: the published sets
CURRENT = "hien-hanh"  # out/<period>/.bo-bieu/hien-hanh -> the set in use
LOCK = ".lock"
FINAL_FOLDER = "chinh-thuc"
RENDERING = ".pdf"  # <build>/.pdf/: the PDFs while LibreOffice writes them


def publish_period(catalogue: Catalogue, warehouse: Path, out: Path, period: str, final: bool = False,
                   level: str = UNIT, today=None, office: Office | None = None,
                   wait_seconds: float = WAIT_SECONDS) -> tuple[list[Report], Publication]:
    """The Biểu of a period into ``out/<period>/`` (``out/<period>/chinh-thuc/`` when final),
    with a row per unit, or per district or province (``level``) in the per-unit tables, and
    their PDFs when ``office`` is given; the returned publication names the files by their
    lasting paths."""
    catalogue = catalogue.for_period(period)  # the Biểu, report and checks of the period's form set
    with connect(warehouse, wait_seconds=wait_seconds) as conn:
        create_schema(conn)
        reports = build_reports(catalogue, conn, period, level)
        sync(conn, Places.under(warehouse.parent).archive, period)  # decisions a killed review left unloaded
        mark = review_mark(conn, catalogue, period, final)
        for report in reports:
            report.review = mark
        statuses = period_status(conn, catalogue, out, period, today)
        info = plan_info(conn, period)
    folder = out / period
    with _locked(folder / SETS):
        build = folder / SETS / f"{time.time_ns()}-{os.getpid()}"
        publication = publish(catalogue, reports, build, signing_for(catalogue, period, info), final)
        publication.report = write_report(compose(catalogue, reports, info), build / report_name(period))
        if office is not None:
            _render_pdfs(publication, office)
        if final:
            return reports, _switch_final(publication, folder / FINAL_FOLDER)
        with atomic_output(build / STATUS_FILE) as temporary:
            temporary.write_text(json.dumps(set_document(statuses, publication, reports), ensure_ascii=False, indent=2),
                                 encoding="utf-8")
        failpoint("publish.after_build")
        return reports, _switch(publication, folder)


def _render_pdfs(publication: Publication, office: Office) -> None:
    """Every Biểu, the all-in-one workbook and the annex as PDF, in one LibreOffice start, into
    the build folder; on failure (a PDF missing or cut short) none of them, and the reason in
    ``pdf_note``."""
    build = publication.folder
    rendering = build / RENDERING
    sources = [*publication.files.values(), publication.all_in_one, publication.annex]
    try:
        pdfs = office.convert_all(sources, rendering, "pdf")
        failpoint("publish.after_pdf")
        with machine_faults(build):
            for pdf in pdfs:
                pdf.rename(build / pdf.name)
    except OfficeError as e:
        publication.pdf_note = f"Không ghi bản PDF của các biểu (vẫn ghi các tệp Excel): {e}"
        return
    finally:
        shutil.rmtree(rendering, ignore_errors=True)
    named = [build / pdf.name for pdf in pdfs]
    publication.pdfs = dict(zip(publication.files, named))
    publication.all_in_one_pdf, publication.annex_pdf = named[-2:]


@contextmanager
def _locked(sets: Path) -> Iterator[None]:
    """One publication of a period at a time (the lock goes with its process, even a killed
    one); first, whatever a dead publication left is removed: every set but the one in use."""
    with machine_faults(sets):
        sets.mkdir(parents=True, exist_ok=True)
        lock = (sets / LOCK).open("w")
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = os.readlink(sets / CURRENT) if (sets / CURRENT).is_symlink() else None
        for entry in sets.iterdir():
            if entry.name not in (LOCK, CURRENT, current):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        remove_leftovers(sets.parent)
        yield


def _link(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` in one step (replacing a file or an older link)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with machine_faults(path):
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target)
        os.replace(temporary, path)


def _switch(publication: Publication, folder: Path) -> Publication:
    """Put the built set in use (one symlink replaced), then make sure every lasting name links
    through ``hien-hanh`` (already so after the first publication)."""
    build = publication.folder
    _link(folder / SETS / CURRENT, build.name)
    failpoint("publish.after_switch")
    names = [p.name for p in build.iterdir() if not p.name.startswith(".")]
    for name in names:
        _link(folder / name, f"{SETS}/{CURRENT}/{name}")
    for entry in folder.iterdir():  # a lasting name the set in use no longer has (its PDFs, say)
        if entry.is_symlink() and entry.name not in names and os.readlink(entry).startswith(f"{SETS}/{CURRENT}/"):
            with machine_faults(entry):
                entry.unlink()
    return publication.moved_to(folder)


def _switch_final(publication: Publication, final: Path) -> Publication:
    """Rename the built final set into ``chinh-thuc/``; one left by a close that died before
    marking the period closed is replaced."""
    with machine_faults(final):
        if final.exists():
            final.rename(publication.folder.with_name(f"{publication.folder.name}-cu"))
        publication.folder.rename(final)
    failpoint("publish.final_after_switch")
    return publication.moved_to(final)
