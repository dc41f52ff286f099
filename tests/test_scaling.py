"""What a national run leans on, kept right while made cheaper (issue 29): a unit's arrivals read
again once its archive folder changes, the files of a batch received several at once (a vanished
file is that unit's alone, a machine fault the first unit's, in the units' order), and the period
status's feedback links from one look at the feedback folder."""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil

import openpyxl
import pytest

from pipeline.errors import MachineError
from pipeline.intake import archive as archive_module
from pipeline.intake import take_in as take_in_module
from pipeline.intake.archive import arrivals, receive
from pipeline.publication.status import period_status
from pipeline.settings import Places
from pipeline.warehouse import connect

T0 = dt.datetime(2023, 8, 10, 8, 0)
UNITS = ["03253", "03259", "03260"]


def _inbox(places: Places, sample_files, units=UNITS):
    folder = places.inbox / "2023"
    folder.mkdir(parents=True, exist_ok=True)
    for path in sample_files:
        if path.name[:5] in units:
            shutil.copy(path, folder / path.name)
    return folder


def test_arrivals_are_read_again_once_a_settled_folder_changes(sample_files, tmp_path, monkeypatch):
    monkeypatch.setattr(archive_module, "SETTLED_NS", 0)  # every folder counts as settled: kept after one read
    archive, work = tmp_path / "archive", tmp_path / "work"
    first, second = sample_files[0], sample_files[1]
    receive(archive, "2023", "03253", first, T0, work / "1")
    folder = archive / "2023" / "03253"
    os.utime(folder, ns=(0, 0))  # its times as a folder untouched for long
    assert [a.original_name for a in arrivals(archive, "2023", "03253")] == [first.name]
    receive(archive, "2023", "03253", second, T0 + dt.timedelta(hours=1), work / "2")
    assert [a.original_name for a in arrivals(archive, "2023", "03253")] == [first.name, second.name]
    assert arrivals(archive, "2023", "99999") == []


def test_a_batch_is_received_at_once_and_a_vanished_file_is_its_units_alone(catalogue, sample_files, tmp_path,
                                                                               monkeypatch):
    places = Places.under(tmp_path / "data", tmp_path / "inbox")
    folder = _inbox(places, sample_files)
    real = take_in_module.receive

    def vanishing(archive, period, unit, source, now, work):
        if unit == "03259":
            source.unlink()  # removed between the look at the inbox and its receipt
        return real(archive, period, unit, source, now, work)

    monkeypatch.setattr(take_in_module, "receive", vanishing)
    results = take_in_module.take_in_batch(catalogue, places, "2023", UNITS, T0)
    assert [(r.unit, r.status.value) for r in results] == [("03253", "valid"), ("03259", "gone"), ("03260", "valid")]
    assert [len(arrivals(places.archive, "2023", u)) for u in UNITS] == [1, 0, 1]
    assert not any(folder.glob("03259*"))


def test_a_machine_fault_while_receiving_names_the_first_unit_it_met(catalogue, sample_files, tmp_path, monkeypatch):
    places = Places.under(tmp_path / "data", tmp_path / "inbox")
    _inbox(places, sample_files)
    real = take_in_module.receive

    def full_disk(archive, period, unit, source, now, work):
        if unit in ("03259", "03260"):
            raise OSError(errno.ENOSPC, "No space left on device", str(archive / period / unit))
        return real(archive, period, unit, source, now, work)

    monkeypatch.setattr(take_in_module, "receive", full_disk)
    with pytest.raises(MachineError) as raised:
        take_in_module.take_in_batch(catalogue, places, "2023", UNITS, T0)
    assert "2023/03259" in str(raised.value) and "03260" not in str(raised.value)
    assert len(arrivals(places.archive, "2023", "03253")) == 1  # received whole meanwhile: linked next time
    monkeypatch.setattr(take_in_module, "receive", real)
    results = take_in_module.take_in_batch(catalogue, places, "2023", UNITS, T0 + dt.timedelta(hours=1))
    assert [r.status.value for r in results] == ["valid", "valid", "valid"]
    assert [len(arrivals(places.archive, "2023", u)) for u in UNITS] == [1, 1, 1]


def test_the_period_status_links_the_feedback_written_and_no_other(catalogue, sample_files, tmp_path):
    places = Places.under(tmp_path / "data", tmp_path / "inbox")
    folder = _inbox(places, sample_files, [u.code for u in catalogue.units_in("2023")])
    [invalid] = folder.glob("03265*")
    workbook = openpyxl.load_workbook(invalid)
    workbook["01 Chỉ tiêu"]["E5"] = "nhiều"  # not a number: an error, and a feedback workbook
    workbook.save(invalid)
    results = {r.unit: r for r in take_in_module.take_in_batch(
        catalogue, places, "2023", [u.code for u in catalogue.units_in("2023")], T0)}
    with connect(places.warehouse) as conn:
        statuses = period_status(conn, catalogue, places.out, "2023", T0.date(), places.archive)
    written = {s.code: s.feedback for s in statuses}
    expected = {u: f"phan-hoi/{r.feedback.name}" if r.feedback else "" for u, r in results.items()}
    assert written == expected
    assert written["03265"] and not written["03253"]
