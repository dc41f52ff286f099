"""``python -m pipeline backup DEST`` and ``restore SRC --data DIR``.

A backup is a folder ``DEST/tuangiao-<time>/`` holding the data folder as it was, without
what is recomputed from it (the warehouse, rebuilt from the archive by ``rebuild``; the inbox
index and working folders; previews), and ``manifest.json`` naming every file with its size,
mode and SHA-256, and every link. So it holds what cannot be made again: the archive (every
received file, its arrival records, the district's plan and what else is recorded beside
them), the page's accounts, session key, audit log (with its rotated files, copied under its
lock so no rotation moves a line meanwhile) and upload records, and the published and
closed periods' sets (``out/``, the official sets with their ``khoa-so.json``, which a rebuild
follows). An inbox kept outside the data folder goes in too (``hop-thu/``): a file not yet
taken in exists nowhere else.

Consistency while intake runs, without stopping it: the backup holds the data folder's shared
lock (``pipeline.locking``), so no rebuild, closing or reopening (which replace many files at
once) runs meanwhile, while intake and publication go on. What they write meanwhile is safe
to copy file by file: each file is written whole under a new name and renamed into place, the
archive only grows (a content is linked in before its arrival record, and a record whose
content is missing is ignored, as after a kill), and a published set is switched by one
symlink. A file that vanishes during the copy was temporary and is left out. The backup is
built as ``.tuangiao-<time>.dang-ghi`` and renamed when complete, so a killed backup never
looks finished.

``restore`` checks every file against the manifest while copying into a folder beside the
target, and renames it into place only when everything matched; the target must be empty.
Then ``rebuild`` makes the warehouse again from the restored archive."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from pipeline.audit import AUDIT_FILE, audit_lock
from pipeline.errors import UserError
from pipeline.files import machine_faults
from pipeline.intake.take_in import REBUILD_FOLDER
from pipeline.locking import shared_lock
from pipeline.settings import Places

MANIFEST = "manifest.json"
FORMAT = 1
DATA_PART = "du-lieu"  # the data folder inside a backup
INBOX_PART = "hop-thu"  # an inbox kept outside the data folder
PREFIX = "tuangiao-"
PARTIAL_SUFFIX = ".dang-ghi"
CHUNK = 1 << 20
# Made again from the rest: the warehouse by ``rebuild``, the inbox index (a cache) by the next
# look, working folders by nobody; previews by ``preview``.
RECOMPUTED_NAMES = {".inbox-index", ".intake", REBUILD_FOLDER, "xem-truoc"}


@dataclass(frozen=True)
class Backup:
    folder: Path
    files: int
    size: int
    removed: tuple[Path, ...] = ()  # older backups let go (``keep``)


def backup(places: Places, destination: Path, now: dt.datetime, keep: int = 0) -> Backup:
    """Copy what cannot be recomputed into a new ``destination/tuangiao-<time>/`` (see the
    module); then, if ``keep``, remove the oldest complete backups beyond the ``keep`` newest."""
    data, destination = places.data.resolve(), destination.resolve()
    if keep < 0:
        raise UserError(f"--keep {keep}: số bản sao lưu giữ lại phải từ 1 trở lên (0: giữ hết).")
    if not (data / "archive").is_dir():
        raise UserError(f'Thư mục "{data}" không phải thư mục dữ liệu của quy trình (chưa có thư mục archive): '
                        "chưa sao lưu gì; hãy chỉ đúng thư mục bằng --data hoặc TUANGIAO_DATA_DIR.")
    if destination == data or data in destination.parents:
        raise UserError(f'Không sao lưu vào chính thư mục dữ liệu ("{destination}"): hãy chọn một ổ hoặc thư mục '
                        "khác, tốt nhất là một ổ khác máy.")
    name = f"{PREFIX}{now:%Y%m%d-%H%M%S}"
    final = destination / name
    if final.exists():
        raise UserError(f'Đã có bản sao lưu "{final}": hãy chờ một giây rồi chạy lại.')
    partial = destination / f".{name}{PARTIAL_SUFFIX}"
    warehouse = {places.warehouse.name, f"{places.warehouse.name}.wal"}
    parts = [(DATA_PART, data)]
    inbox = places.inbox.resolve()
    if inbox != data and data not in inbox.parents and inbox.is_dir():
        parts.append((INBOX_PART, inbox))
    with machine_faults(partial):
        destination.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o700)
        files, links = [], []
        with shared_lock(data):
            for part, root in parts:
                skip = warehouse if part == DATA_PART else set()
                _copy_tree(root, partial / part, part, skip, files, links)
        manifest = {"format": FORMAT, "created_at": now.isoformat(timespec="seconds"), "data": str(data),
                    "files": files, "links": links}
        _write_synced(partial / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        _sync(partial)
        os.rename(partial, final)
        _sync(destination)
        removed = _let_go(destination, keep) if keep else ()
    return Backup(final, len(files), sum(f["size"] for f in files), removed)


def _let_go(destination: Path, keep: int) -> tuple[Path, ...]:
    """Remove the complete backups beyond the ``keep`` newest (by name: their time); one being
    written (hidden, ``.dang-ghi``) is never touched."""
    complete = sorted(p for p in destination.iterdir()
                      if p.name.startswith(PREFIX) and (p / MANIFEST).is_file() and not p.is_symlink())
    old = tuple(complete[:-keep])
    for folder in old:
        shutil.rmtree(folder)
    return old


def _copy_tree(source: Path, target: Path, prefix: str, skip: set[str], files: list, links: list) -> None:
    """Copy ``source`` into ``target`` (created), recording each file and link under ``prefix``."""
    target.mkdir(mode=0o700)
    try:
        entries = sorted(os.scandir(source), key=lambda e: e.name)
    except FileNotFoundError:  # a working folder removed meanwhile
        return
    for entry in entries:
        if entry.name in skip or entry.name in RECOMPUTED_NAMES:
            continue
        relative = f"{prefix}/{entry.name}"
        if entry.is_symlink():
            try:
                pointed = os.readlink(entry.path)
            except FileNotFoundError:
                continue
            os.symlink(pointed, target / entry.name)
            links.append({"path": relative, "target": pointed})
        elif relative == f"{DATA_PART}/{AUDIT_FILE.parent}":  # the audit log and its rotated files, not
            with audit_lock(source, exclusive=False):  # rotated while they are copied
                _copy_tree(Path(entry.path), target / entry.name, relative, set(), files, links)
        elif entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), target / entry.name, relative, set(), files, links)
        elif entry.is_file(follow_symlinks=False):
            copied = _copy_file(Path(entry.path), target / entry.name)
            if copied is not None:
                files.append({"path": relative, **copied})


def _copy_file(source: Path, target: Path) -> dict | None:
    """Copy one file through one descriptor (never a link), keeping its mode; its size, mode and
    SHA-256, or None if it vanished (a temporary file)."""
    try:
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with open(descriptor, "rb") as reader:
        mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
        digest, size = hashlib.sha256(), 0
        with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fchmod(writer.fileno(), mode)
            os.fsync(writer.fileno())
    return {"size": size, "mode": oct(mode), "sha256": digest.hexdigest()}


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "xb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _sync(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def restore(source: Path, data: Path) -> int:
    """Copy the backup ``source`` into the empty (or missing) data folder ``data``, every file
    checked against the manifest; returns the number of files. Nothing is put in place unless
    all of them match."""
    source, data = source.resolve(), data.resolve()
    manifest = _manifest(source)
    if data.exists() and (not data.is_dir() or any(data.iterdir())):
        raise UserError(f'Thư mục "{data}" không trống: chỉ khôi phục vào một thư mục dữ liệu trống (hoặc chưa có) '
                        "để không ghi đè dữ liệu đang có; chưa khôi phục gì.")
    staging = data.with_name(f".{data.name}.khoi-phuc-{os.getpid()}")
    with machine_faults(staging):
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700, parents=True)
        try:
            for entry in manifest["files"]:
                _restore_file(source, staging, entry)
            for link in manifest["links"]:
                path = _inside(staging, link["path"])
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link["target"], path)
            restored = staging / DATA_PART
            restored.mkdir(exist_ok=True)
            if (staging / INBOX_PART).is_dir():
                os.rename(staging / INBOX_PART, restored / "inbox")
            _sync(restored)
            os.rename(restored, data)  # onto a missing or empty folder
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return len(manifest["files"])


def _manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        if manifest["format"] != FORMAT:
            raise ValueError(manifest["format"])
        return manifest
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f'"{source}" không phải một bản sao lưu đọc được (thiếu hoặc hỏng tệp {MANIFEST}): '
                        "chưa khôi phục gì.") from None


def _inside(root: Path, relative: str) -> Path:
    """``root/relative``, refused if the manifest names anything outside the backup's parts."""
    path = (root / relative).resolve()
    if relative.split("/", 1)[0] not in (DATA_PART, INBOX_PART) or root.resolve() not in path.parents:
        raise UserError(f'Bản sao lưu ghi một đường dẫn không hợp lệ "{relative}": chưa khôi phục gì.')
    return path


def _restore_file(source: Path, staging: Path, entry: dict) -> None:
    target = _inside(staging, entry["path"])
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        reader = open(_inside(source, entry["path"]), "rb")
    except FileNotFoundError:
        raise UserError(f'Bản sao lưu thiếu tệp "{entry["path"]}": chưa khôi phục gì; hãy dùng một bản sao lưu khác.') \
            from None
    with reader, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        writer.flush()
        os.fchmod(writer.fileno(), int(entry["mode"], 8))
        os.fsync(writer.fileno())
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        raise UserError(f'Tệp "{entry["path"]}" trong bản sao lưu đã bị hỏng hoặc bị sửa (không khớp mã băm ghi '
                        "trong manifest.json): chưa khôi phục gì; hãy dùng một bản sao lưu khác.")
