"""The archive: every received file kept unchanged, once per content, with when it was
first received. ``data/archive/<period>/<unit>/<received>_<hash>.xlsx`` plus a small JSON
record (original file name, received time, hash). The warehouse can be rebuilt from the
archive alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.checking.findings import nfc
from pipeline.files import atomic_output
from pipeline.workbook.reader import file_sha256

UNIDENTIFIED = "_khong_xac_dinh"
PLAN = "_ke_hoach"


@dataclass(frozen=True)
class Archived:
    path: Path
    original_name: str
    received_at: dt.datetime
    file_hash: str

    @property
    def relative_path(self) -> str:
        """<period>/<unit>/<file>: where it is inside the archive folder."""
        return "/".join(self.path.parts[-3:])


def _folder(archive: Path, period: str, unit: str) -> Path:
    return archive / period / (unit or PLAN)


def _record(path: Path) -> Archived:
    data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return Archived(path, data["original_name"], dt.datetime.fromisoformat(data["received_at"]), data["file_hash"])


def archive_file(archive: Path, period: str, unit: str, source: Path, now: dt.datetime) -> Archived:
    """Keep ``source`` unchanged; a content already archived keeps its first received time."""
    file_hash = file_sha256(source)
    folder = _folder(archive, period, unit)
    for existing in folder.glob(f"*_{file_hash[:16]}.xlsx"):
        record = _record(existing)
        if record.file_hash == file_hash:
            return record
    target = folder / f"{now:%Y%m%dT%H%M%S}_{file_hash[:16]}.xlsx"
    with atomic_output(target) as temporary:
        shutil.copyfile(source, temporary)
    record = {"original_name": nfc(source.name), "received_at": now.isoformat(), "file_hash": file_hash}
    with atomic_output(target.with_suffix(".json")) as temporary:
        temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    return Archived(target, record["original_name"], now, file_hash)


def archived_versions(archive: Path, period: str, unit: str) -> list[Archived]:
    """Every archived version of a unit's (or the plan's, unit "") submissions, oldest first."""
    folder = _folder(archive, period, unit)
    records = [_record(p) for p in folder.glob("*.xlsx") if p.with_suffix(".json").exists()]
    return sorted(records, key=lambda r: (r.received_at, r.file_hash))


def archived_units(archive: Path) -> list[tuple[str, str]]:
    """(period, unit) pairs with archived files, periods in order (the plan's unit is "")."""
    pairs = []
    for period in sorted(p for p in archive.iterdir() if p.is_dir()) if archive.is_dir() else []:
        for folder in sorted(f for f in period.iterdir() if f.is_dir() and f.name != UNIDENTIFIED):
            pairs.append((period.name, "" if folder.name == PLAN else folder.name))
    return pairs
