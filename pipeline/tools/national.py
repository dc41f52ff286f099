"""A synthetic national inbox for the benchmark and the national-scale test.

``python -m pipeline.tools.national --out DIR`` writes ``DIR/don-vi.csv``, a register of 10.600
communes over 705 districts and the 63 provinces of 2021–2025 (real province codes and
names; districts and communes are numbered), and ``DIR/inbox/2023/``, one workbook per
commune. Each workbook is a byte-level copy of one of the 19 communes of the 2023 sample
(commune n copies sample commune n mod 19) with its unit code and name replaced, so the
national totals are known sums of the sample. Every ``BAD_EVERY``-th commune disburses
more than it holds (an error the checks must report). Output is deterministic: the same
arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import random
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
COMMUNES, DISTRICTS = 10_600, 705
BAD_EVERY = 997
REGISTER = "don-vi.csv"
ZIP_TIME = (2023, 8, 1, 0, 0, 0)
INFO_PART, FUNDS_PART = "xl/worksheets/sheet2.xml", "xl/worksheets/sheet4.xml"
BAD_CELL = "K15"  # 02 Nguồn vốn, DA4.TDA1 · Đã giải ngân – sự nghiệp
BAD_VALUE = "999999"

PROVINCES = (
    ("01", "Thành phố Hà Nội"), ("02", "Tỉnh Hà Giang"), ("04", "Tỉnh Cao Bằng"), ("06", "Tỉnh Bắc Kạn"),
    ("08", "Tỉnh Tuyên Quang"), ("10", "Tỉnh Lào Cai"), ("11", "Tỉnh Điện Biên"), ("12", "Tỉnh Lai Châu"),
    ("14", "Tỉnh Sơn La"), ("15", "Tỉnh Yên Bái"), ("17", "Tỉnh Hòa Bình"), ("19", "Tỉnh Thái Nguyên"),
    ("20", "Tỉnh Lạng Sơn"), ("22", "Tỉnh Quảng Ninh"), ("24", "Tỉnh Bắc Giang"), ("25", "Tỉnh Phú Thọ"),
    ("26", "Tỉnh Vĩnh Phúc"), ("27", "Tỉnh Bắc Ninh"), ("30", "Tỉnh Hải Dương"), ("31", "Thành phố Hải Phòng"),
    ("33", "Tỉnh Hưng Yên"), ("34", "Tỉnh Thái Bình"), ("35", "Tỉnh Hà Nam"), ("36", "Tỉnh Nam Định"),
    ("37", "Tỉnh Ninh Bình"), ("38", "Tỉnh Thanh Hóa"), ("40", "Tỉnh Nghệ An"), ("42", "Tỉnh Hà Tĩnh"),
    ("44", "Tỉnh Quảng Bình"), ("45", "Tỉnh Quảng Trị"), ("46", "Tỉnh Thừa Thiên Huế"), ("48", "Thành phố Đà Nẵng"),
    ("49", "Tỉnh Quảng Nam"), ("51", "Tỉnh Quảng Ngãi"), ("52", "Tỉnh Bình Định"), ("54", "Tỉnh Phú Yên"),
    ("56", "Tỉnh Khánh Hòa"), ("58", "Tỉnh Ninh Thuận"), ("60", "Tỉnh Bình Thuận"), ("62", "Tỉnh Kon Tum"),
    ("64", "Tỉnh Gia Lai"), ("66", "Tỉnh Đắk Lắk"), ("67", "Tỉnh Đắk Nông"), ("68", "Tỉnh Lâm Đồng"),
    ("70", "Tỉnh Bình Phước"), ("72", "Tỉnh Tây Ninh"), ("74", "Tỉnh Bình Dương"), ("75", "Tỉnh Đồng Nai"),
    ("77", "Tỉnh Bà Rịa - Vũng Tàu"), ("79", "Thành phố Hồ Chí Minh"), ("80", "Tỉnh Long An"),
    ("82", "Tỉnh Tiền Giang"), ("83", "Tỉnh Bến Tre"), ("84", "Tỉnh Trà Vinh"), ("86", "Tỉnh Vĩnh Long"),
    ("87", "Tỉnh Đồng Tháp"), ("89", "Tỉnh An Giang"), ("91", "Tỉnh Kiên Giang"), ("92", "Thành phố Cần Thơ"),
    ("93", "Tỉnh Hậu Giang"), ("94", "Tỉnh Sóc Trăng"), ("95", "Tỉnh Bạc Liêu"), ("96", "Tỉnh Cà Mau"),
)


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    district_code: str
    district_name: str
    province_code: str
    province_name: str
    source: Path  # the sample commune's workbook it copies
    bad: bool


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` as ``parts`` near-equal sizes, the larger ones at random places."""
    sizes = [total // parts] * parts
    for n in rng.sample(range(parts), total % parts):
        sizes[n] += 1
    return sizes


def national_communes(communes: int = COMMUNES, districts: int = DISTRICTS, bad_every: int = BAD_EVERY) -> list[Commune]:
    """The synthetic register: provinces → districts → communes, numbered in order."""
    rng = random.Random(2023)
    samples = [next(SAMPLE.glob(f"{u.code}-*.xlsx")) for u in default_catalogue().units_in(PERIOD) if u.is_commune]
    district_sizes = _split(communes, districts, rng)
    per_province = _split(districts, len(PROVINCES), rng)
    result, district = [], 0
    for (province_code, province_name), count in zip(PROVINCES, per_province):
        for _ in range(count):
            district += 1
            district_code = f"{district:03d}"
            for _ in range(district_sizes[district - 1]):
                number = len(result) + 1
                result.append(Commune(
                    f"{number:05d}", f"Xã mẫu {number:05d}", district_code, f"Huyện mẫu {district_code}",
                    province_code, province_name, samples[(number - 1) % len(samples)], number % bad_every == 0,
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
            writer.writerow([c.code, c.name, "xa", "nong_thon", c.district_code, c.district_name,
                             c.province_code, c.province_name, "", ""])


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


def generate(out: Path, communes: int = COMMUNES, districts: int = DISTRICTS, bad_every: int = BAD_EVERY,
             progress=print) -> list[Commune]:
    """Write the register and the inbox under ``out``; print progress every 1.000 workbooks."""
    register = national_communes(communes, districts, bad_every)
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
    parser.add_argument("--communes", type=int, default=COMMUNES)
    parser.add_argument("--districts", type=int, default=DISTRICTS)
    args = parser.parse_args(argv)
    generate(args.out, args.communes, args.districts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
