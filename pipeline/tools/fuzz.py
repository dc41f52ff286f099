"""A seeded mutation fuzzer over valid submissions: ``python -m pipeline.tools.fuzz``.

Each case is a valid sample workbook with one mutation: a byte flipped or the file cut
short (as a damaged download gives), a cell's value or type replaced by one at the edges
(non-finite, huge, negative, long, invalid UTF-8, a date far out of range), a shared-string
index broken, a cell or row reference moved, respelled or made huge, a part dropped, or a
DOCTYPE added. Every case must end in a verdict (accepted, findings, or unreadable with a
Vietnamese reason naming the file), never in an exception, within bounded time: the reader's
worker processes bound memory. The same seed gives the same cases; a failing case is
written out to keep as a regression file."""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.catalogue import default_catalogue
from pipeline.checking.validation import check_files
from pipeline.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample" / "2023"
BATCH = 25
EDGE_VALUES = [b"NaN", b"nan", b"Infinity", b"-inf", b"sNaN", b"1E+5000", b"-1E+5000", b"1e308", b"1e-320", b"-1",
               b"-0", b"99999999999999999999999", b"4" * 5000, b"", b"0x1F", b"1,5", b"176.36", b"\xff\xfe\xfa",
               b"2958466", b"-693594", b"1" * 10 + b"E" + b"9" * 8]
CELL_TYPES = [b"n", b"s", b"str", b"b", b"e", b"d", b"inlineStr", b"x"]
REFERENCES = [b"A1", b"XFD1048576", b"ZZ9999", b"AAAA1", b"A0", b"A-1", b"a5", b"A00005", b" B7 ", b"", b"E99999999",
              b"1A"]


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, (2023, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _edit_xml(rng: random.Random, parts: dict[str, bytes]) -> None:
    sheets = sorted(n for n in parts if n.startswith("xl/worksheets/sheet"))
    name = rng.choice(sheets)
    data = parts[name]
    values = [m.span(1) for m in re.finditer(rb"<v>([^<]*)</v>", data)]
    kind = rng.randrange(6)
    if kind == 0 and values:  # a value at the edges
        start, end = rng.choice(values)
        data = data[:start] + rng.choice(EDGE_VALUES) + data[end:]
    elif kind == 1:  # a cell's type
        cells = [m.span() for m in re.finditer(rb'<c r="[A-Z]+[0-9]+"', data)]
        if cells:
            start, end = rng.choice(cells)
            data = data[:end] + b' t="' + rng.choice(CELL_TYPES) + b'"' + data[end:]
    elif kind == 2:  # a shared-string index
        if values:
            start, end = rng.choice(values)
            data = data[:start] + rng.choice([b"-1", b"999999", b"4294967296", b"1.5"]) + data[end:]
    elif kind == 3:  # a reference moved, respelled, made huge, quoted differently
        refs = [m.span(1) for m in re.finditer(rb' r="([^"]*)"', data)]
        if refs:
            start, end = rng.choice(refs)
            data = data[:start] + rng.choice(REFERENCES) + data[end:]
            if rng.random() < 0.3:
                data = data[:start - 1] + b"'" + data[start:start + (end - start)] + b"'" + data[end + 1:]
    elif kind == 4:  # a DOCTYPE, or text that is not UTF-8
        data = rng.choice([b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + data.split(b"?>", 1)[-1],
                           data.replace(b"<t>", b"<t>\xc3\x28", 1)])
    else:  # a long string where a number stands
        if values:
            start, end = rng.choice(values)
            data = data[:start] + b"9" * rng.choice([100, 5000, 100_000]) + data[end:]
    parts[name] = data
    if rng.random() < 0.2 and "xl/sharedStrings.xml" in parts:
        parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(b"<si>", b"", rng.randrange(1, 20))


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One mutation of a valid workbook's bytes."""
    kind = rng.randrange(5)
    if kind == 0:  # bits flipped anywhere, as a damaged copy gives
        data = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 8])):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 1:  # cut short
        return data[: rng.randrange(len(data))]
    parts = _parts(data)
    if kind == 2:  # a part dropped
        del parts[rng.choice(sorted(parts))]
    else:
        _edit_xml(rng, parts)
    return _zip(parts)


def cases(seed: int, count: int, out: Path) -> Iterator[Path]:
    """``count`` mutated files written under ``out``, the same for the same seed."""
    rng = random.Random(seed)
    sources = sorted(SAMPLE.glob("*.xlsx"))
    originals = {p: p.read_bytes() for p in sources}
    for number in range(count):
        source = rng.choice(sources)
        path = out / f"fuzz-{seed}-{number:05d}{rng.choice(['.xlsx', '.xlsx', '.ods', '.xls'])}"
        path.write_bytes(mutate(rng, originals[source]))
        yield path


def verdicts(results) -> dict[str, int]:
    """How many cases ended accepted, with findings, or unreadable (to see that mutations reach the checker)."""
    names = ["accepted" if r.accepted else "findings" if r.submission is not None else "unreadable" for r in results]
    return {name: names.count(name) for name in ("accepted", "findings", "unreadable")}


def problems(paths: list[Path], time_limit: float = 60.0) -> list[tuple[Path, str]]:
    """Check the files in batches; what went wrong with any (an exception, a reason that does
    not name the file, a batch past the time limit)."""
    catalogue = default_catalogue()
    found = []
    for start in range(0, len(paths), BATCH):
        batch = paths[start:start + BATCH]
        began = time.monotonic()
        try:
            results = check_files(catalogue, batch, "2023", workers=2)
        except Exception:  # what the fuzzer is for: found, then singled out file by file
            for path in batch:
                try:
                    check_files(catalogue, [path], "2023")
                except Exception as e:
                    found.append((path, f"{type(e).__name__}: {e}"))
            continue
        for path, result in zip(batch, results):
            if result.submission is None and not any(f'"{path.name}"' in f.message for f in result.findings):
                found.append((path, "lý do không nêu tên tệp: " + "; ".join(f.message for f in result.findings)))
        if time.monotonic() - began > time_limit:
            found.append((batch[0], f"lô {len(batch)} tệp quá {time_limit:.0f} giây"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "data" / "out" / "fuzz"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = list(cases(args.seed, args.cases, out))
    found = problems(paths)
    for path, problem in found:
        print(f"{path}: {problem}")
    print(f"{len(paths)} trường hợp, {len(found)} có vấn đề.")
    for path in set(paths) - {p for p, _ in found}:
        path.unlink()
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
