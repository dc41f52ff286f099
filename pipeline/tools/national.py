"""A synthetic national inbox for the benchmark and the national-scale test.

``python -m pipeline.tools.national --out DIR`` writes ``DIR/don-vi.csv``, a register of the
country after 1 July 2025 (Nghị quyết 202/2025/QH15 of 12/6/2025: 63 provinces merged into
34, no district level, communes report to their province), and ``DIR/inbox/2023/``, one
workbook per commune. By default the register has 3.321 communes, as many in each province as
it has commune-level units; ``--communes 10600`` (the country's count before 2025) is the
stress case, spread over the same 34 provinces in the same proportions.

The 34 provinces are real: their names and codes are the General Statistics Office's list of
July 2025 (see ``PROVINCES``). The communes are synthetic: their codes (from
``SYNTHETIC_CODES_FROM`` + 1) and names ("Xã mẫu …") are not official, and the district
columns of the register are empty. Each workbook is a byte-level copy of one of the 19 communes of the 2023
sample (commune n copies sample commune n mod 19) with its unit code and name replaced, so
the national totals are known sums of the sample. Every ``BAD_EVERY``-th commune disburses
more than it holds (an error the checks must report). Output is deterministic: the same
arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.catalogue import CATALOGUE_DIR, UNITS_FILE, default_catalogue
from pipeline.settings import PROJECT_ROOT
from pipeline.text import show_number

SAMPLE = PROJECT_ROOT / "data" / "sample" / "2023"
PERIOD = "2023"
BAD_EVERY = 997
REGISTER = "don-vi.csv"
ZIP_TIME = (2023, 8, 1, 0, 0, 0)
INFO_PART, FUNDS_PART = "xl/worksheets/sheet2.xml", "xl/worksheets/sheet4.xml"
BAD_CELL = "K15"  # 02 Nguồn vốn, DA4.TDA1 · Đã giải ngân – sự nghiệp
BAD_VALUE = "999999"
STRESS_COMMUNES = 10_600  # the country's communes before 1 July 2025: the stress case
# Synthetic commune codes start past the real ones: the 3.321 commune codes of the 2025 list
# run from 00004 to 32248, so 40001 and up cannot be mistaken for one.
SYNTHETIC_CODES_FROM = 40_000

# The 34 provincial units from 1 July 2025: (code, name, commune-level units). Codes, names
# and counts as published by the General Statistics Office (Cục Thống kê) with the Prime
# Minister's list of administrative unit codes of 2025, taken from the data of the
# VietnamProvinces library (github.com/sunshine-tech/VietnamProvinces, seed data of 2025-07:
# the draft decision on chinhphu.vn). A merged province keeps the code of the former province
# that holds its seat (Lào Cai 15, formerly Yên Bái's; Gia Lai 52, formerly Bình Định's). Not
# checked here against the text of the final decision (Quyết định 19/2025/QĐ-TTg).
PROVINCES = (
    ("01", "Thành phố Hà Nội", 126), ("04", "Tỉnh Cao Bằng", 56), ("08", "Tỉnh Tuyên Quang", 124),
    ("11", "Tỉnh Điện Biên", 45), ("12", "Tỉnh Lai Châu", 38), ("14", "Tỉnh Sơn La", 75),
    ("15", "Tỉnh Lào Cai", 99), ("19", "Tỉnh Thái Nguyên", 92), ("20", "Tỉnh Lạng Sơn", 65),
    ("22", "Tỉnh Quảng Ninh", 54), ("24", "Tỉnh Bắc Ninh", 99), ("25", "Tỉnh Phú Thọ", 148),
    ("31", "Thành phố Hải Phòng", 114), ("33", "Tỉnh Hưng Yên", 104), ("37", "Tỉnh Ninh Bình", 129),
    ("38", "Tỉnh Thanh Hóa", 166), ("40", "Tỉnh Nghệ An", 130), ("42", "Tỉnh Hà Tĩnh", 69),
    ("44", "Tỉnh Quảng Trị", 78), ("46", "Thành phố Huế", 40), ("48", "Thành phố Đà Nẵng", 94),
    ("51", "Tỉnh Quảng Ngãi", 96), ("52", "Tỉnh Gia Lai", 135), ("56", "Tỉnh Khánh Hòa", 65),
    ("66", "Tỉnh Đắk Lắk", 102), ("68", "Tỉnh Lâm Đồng", 124), ("75", "Tỉnh Đồng Nai", 95),
    ("79", "Thành phố Hồ Chí Minh", 168), ("80", "Tỉnh Tây Ninh", 96), ("82", "Tỉnh Đồng Tháp", 102),
    ("86", "Tỉnh Vĩnh Long", 124), ("91", "Tỉnh An Giang", 102), ("92", "Thành phố Cần Thơ", 103),
    ("96", "Tỉnh Cà Mau", 64),
)
COMMUNES = sum(count for _, _, count in PROVINCES)  # 3.321


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    province_code: str
    province_name: str
    source: Path  # the sample commune's workbook it copies
    bad: bool


def province_sizes(communes: int) -> list[int]:
    """``communes`` spread over the provinces in proportion to their real counts (largest
    remainders): the real counts themselves for ``COMMUNES``."""
    exact = [communes * count / COMMUNES for _, _, count in PROVINCES]
    sizes = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda n: (sizes[n] - exact[n], n))
    for n in by_remainder[:communes - sum(sizes)]:
        sizes[n] += 1
    return sizes


def national_communes(communes: int = COMMUNES, bad_every: int = BAD_EVERY) -> list[Commune]:
    """The synthetic register: provinces → communes, numbered in order."""
    if not 0 < communes < 100_000 - SYNTHETIC_CODES_FROM:
        raise ValueError(f"{communes} communes: too many for five-digit synthetic codes")
    samples = [next(SAMPLE.glob(f"{u.code}-*.xlsx")) for u in default_catalogue().units_in(PERIOD) if u.is_commune]
    result = []
    for (province_code, province_name, _), count in zip(PROVINCES, province_sizes(communes)):
        for _ in range(count):
            number = len(result) + 1
            result.append(Commune(
                f"{SYNTHETIC_CODES_FROM + number:05d}", f"Xã mẫu {number:05d}", province_code, province_name,
                samples[(number - 1) % len(samples)], number % bad_every == 0,
            ))
    return result



def write_register(path: Path, communes: list[Commune]) -> None:
    """The register in the columns of the catalogue's units.csv."""
    with (CATALOGUE_DIR / UNITS_FILE).open(encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for c in communes:
            writer.writerow([c.code, c.name, "xa", "nong_thon", "", "", c.province_code, c.province_name, "", ""])


class _Source:
    """One sample workbook's parts, read once; ``workbook`` writes a commune's copy."""

    def __init__(self, path: Path):
        with zipfile.ZipFile(path) as archive:
            self.parts = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
        info = dict(self.parts)[INFO_PART].decode()
        self.code_cell = re.search(r'<c r="C4"[^>]*>.*?</c>', info).group(0)
        self.name_cell = re.search(r'<c r="C5"[^>]*>.*?</c>', info).group(0)
        funds = dict(self.parts)[FUNDS_PART].decode()
        self.bad_cell = re.search(rf'<c r="{BAD_CELL}"[^>]*?(/>|>.*?</c>)', funds).group(0)

    def workbook(self, path: Path, commune: Commune) -> None:
        style = re.search(r's="\d+"', self.code_cell).group(0)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, data in self.parts:
                if name == INFO_PART:
                    text = data.decode().replace(
                        self.code_cell, f'<c r="C4" {style} t="inlineStr"><is><t>{commune.code}</t></is></c>'
                    ).replace(self.name_cell, re.sub(r"<v>.*?</v>", f"<v>{commune.name}</v>", self.name_cell))
                    data = text.encode()
                elif name == FUNDS_PART and commune.bad:
                    bad_style = re.search(r's="\d+"', self.bad_cell).group(0)
                    data = data.decode().replace(self.bad_cell, f'<c r="{BAD_CELL}" {bad_style}><v>{BAD_VALUE}</v></c>').encode()
                archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, zipfile.ZIP_DEFLATED, 1)


def generate(out: Path, communes: int = COMMUNES, bad_every: int = BAD_EVERY, progress=print) -> list[Commune]:
    """Write the register and the inbox under ``out``; print progress every 1.000 workbooks."""
    register = national_communes(communes, bad_every)
    inbox = out / "inbox" / PERIOD
    inbox.mkdir(parents=True, exist_ok=True)
    write_register(out / REGISTER, register)
    sources: dict[Path, _Source] = {}
    start = time.perf_counter()
    for n, commune in enumerate(register, start=1):
        source = sources.setdefault(commune.source, _Source(commune.source))
        source.workbook(inbox / f"{commune.code}.xlsx", commune)
        if n % 1000 == 0 or n == len(register):
            progress(f"Đã tạo {show_number(n)}/{show_number(len(register))} tệp ({show_number(time.perf_counter() - start, places=0)} s)")
    return register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.national", description="Tạo hộp thư đến giả lập cả nước")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--communes", type=int, default=COMMUNES,
                        help=f"số xã (mặc định {COMMUNES}; {STRESS_COMMUNES} là số xã trước 1/7/2025)")
    args = parser.parse_args(argv)
    generate(args.out, args.communes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
