"""``python -m pipeline doctor``: one Vietnamese screen of what an administrator checks first:
the data folder and its free space, the last publication of each period, LibreOffice (it
renders the PDFs) and the typeface the printed Biểu get for Times New Roman (Liberation Serif
2.x, with every Vietnamese letter). Each check is a ``Check``; the Dagster side (the daemon's
heartbeat) lives in ``assets`` and adds its own line to the same screen."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.publication.status import INTAKE_FILE, STATUS_FILE
from pipeline.settings import Settings, local_time, shown_time
from pipeline.states import SubmissionState
from pipeline.text import show_number

FREE_SHARE = 0.10  # below a tenth of the disk free, or below
FREE_BYTES = 2 * 10 ** 9  # 2 GB (a national run's data folder), the disk is said to be nearly full
TYPEFACE = "Times New Roman"  # what the workbooks ask for; fontconfig gives its metric twin
TWIN, TWIN_VERSION = "Liberation Serif", 2  # fonts-liberation2: Vietnamese letters complete
PROGRAM_SECONDS = 60


@dataclass(frozen=True)
class Check:
    """One line of the screen: what was looked at, whether it is fine (None: not looked at
    here), and what was seen."""

    name: str
    fine: bool | None
    seen: str


MARKS = {True: "[ỔN] ", False: "[LỖI]", None: "[--] "}
DAEMON = Check("Tiến trình nền Dagster", None, "không xem được ở đây (chỉ phần Dagster xem được nhịp của nó): "
                                               "python -m assets doctor, systemctl status tuangiao-dagster-daemon")


def checks(settings: Settings) -> list[Check]:
    return [disk(settings.data), *publications(settings), office(settings), typeface()]


def screen(found: list[Check]) -> str:
    width = max(len(c.name) for c in found)
    lines = [f"{MARKS[c.fine]} {c.name.ljust(width)}  {c.seen}" for c in found]
    problems = sum(c.fine is False for c in found)
    lines.append("Mọi mục đều ổn." if not problems else f"Có {problems} mục cần xử lý (đánh dấu [LỖI]).")
    return "\n".join(lines)


def disk(data: Path) -> Check:
    name = "Ổ đĩa của thư mục dữ liệu"
    if not data.is_dir():
        return Check(name, False, f'chưa có thư mục dữ liệu "{data}" (TUANGIAO_DATA_DIR)')
    usage = shutil.disk_usage(data)
    seen = (f"{data}: còn trống {show_number(usage.free / 1e9, 1)} GB trên {show_number(usage.total / 1e9, 1)} GB "
            f"({show_number(100 * usage.free / usage.total, 0)} %)")
    fine = usage.free >= FREE_BYTES and usage.free / usage.total >= FREE_SHARE
    return Check(name, fine, seen if fine else f"{seen}: sắp đầy, hãy giải phóng dung lượng hoặc chuyển sang ổ khác")


def publications(settings: Settings) -> list[Check]:
    """Each period: when its set in use was published and how many units it counts as valid;
    when intake last told the units' states (``tiep-nhan.json``), and how many were valid then."""
    found = []
    for period in settings.catalogue.periods:
        folder = settings.places.out / period
        published, intake = _units(folder / STATUS_FILE), _units(folder / INTAKE_FILE)
        parts = [f"công bố lúc {published[0]}, bộ biểu tính {published[1]} đơn vị hợp lệ" if published
                 else "chưa công bố bộ biểu nào"]
        if intake:
            parts.append(f"tiếp nhận gần nhất lúc {intake[0]}: {intake[1]} đơn vị hợp lệ")
        found.append(Check(f"Lần tổng hợp gần nhất, kỳ {period}", True, "; ".join(parts)))
    return found


def _units(path: Path) -> tuple[str, str] | None:
    """When ``path`` (a document with the units' states) was written, and "valid/all" of it."""
    try:
        units = json.loads(path.read_text(encoding="utf-8")).get("units", [])
        written = local_time(dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc))
    except (OSError, ValueError, AttributeError):
        return None
    valid = sum(u.get("state") == SubmissionState.VALID for u in units)
    return shown_time(written), f"{valid}/{len(units)}"


def _output(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROGRAM_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def office(settings: Settings) -> Check:
    name = "LibreOffice (bản PDF của các biểu)"
    program = settings.soffice or shutil.which("soffice")
    if not settings.pdf:
        return Check(name, True, "không dùng (TUANGIAO_PDF=0)")
    version = _output([program, "--version"]) if program else None
    if not version:
        return Check(name, False, "không chạy được soffice: hãy cài libreoffice-calc-nogui và libreoffice-writer-nogui")
    return Check(name, True, f"{version.splitlines()[0]} ({program})")


def typeface() -> Check:
    """The font fontconfig gives for Times New Roman: Liberation Serif 2.x covering Vietnamese."""
    name = f"Phông chữ thay {TYPEFACE}"
    matched = _output(["fc-match", "-f", "%{family[0]}|%{file}|%{fontversion}|%{lang}", TYPEFACE])
    if matched is None:
        return Check(name, False, "không chạy được fc-match: hãy cài fontconfig và fonts-liberation2")
    family, file, version, languages = matched.split("|", 3)
    major = int(version or 0) / 65536
    seen = f"{family} {show_number(major, 2)} ({file})"
    if family != TWIN or major < TWIN_VERSION:
        return Check(name, False, f"{seen}: cần {TWIN} {TWIN_VERSION}.x, hãy cài gói fonts-liberation2")
    if "vi" not in languages.split("|"):
        return Check(name, False, f"{seen}: thiếu chữ tiếng Việt, hãy cài gói fonts-liberation2")
    return Check(name, True, f"{seen}, đủ chữ tiếng Việt")
