"""The shipped 2023 sample: read back from its workbooks, its district totals are the
figures of the 2023 evaluation report (forms.md), every rule holds, and it regenerates
byte for byte."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from pipeline.catalogue import Ref
from pipeline.checking.validation import check_files
from pipeline.tools.sample import split, split_within, write_sample
from pipeline.workbook.reader import read_workbook
from tests.conftest import SAMPLE_DIR


@pytest.fixture(scope="module")
def submissions(catalogue, sample_files):
    return [read_workbook(p, catalogue) for p in sample_files if not p.name.startswith("ke-hoach")]


@pytest.fixture(scope="module")
def totals(submissions):
    """District totals summed from the tidy rows of every sample workbook."""
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for submission in submissions:
        for row in submission.tidy().itertuples():
            sums[(row.form, row.item, row.column)] += Decimal(row.value)
    return sums


def total(totals, form, item, column="GIA_TRI"):
    return totals[(form, item, column)]


def fund_column(totals, column):
    return sum(v for (form, _, col), v in totals.items() if form == "02" and col == column)


def rate(numerator, denominator):
    return (100 * numerator / denominator).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def test_sample_has_one_workbook_per_unit_and_the_plan(catalogue, sample_files, submissions):
    assert sorted(s.unit_code for s in submissions) == sorted(u.code for u in catalogue.units_in("2023"))
    assert (SAMPLE_DIR / "ke-hoach-huyen-2023.xlsx") in sample_files


def test_households_and_poverty_figures(totals):
    assert total(totals, "01", "HO_TONG") == 19336
    assert total(totals, "01", "HO_NGHEO") == 7966
    assert total(totals, "01", "HO_CAN_NGHEO") == 2279
    assert rate(total(totals, "01", "HO_NGHEO"), total(totals, "01", "HO_TONG")) == Decimal("41.2")
    assert rate(total(totals, "01", "HO_CAN_NGHEO"), total(totals, "01", "HO_TONG")) == Decimal("11.8")


def test_fund_figures(totals):
    assert fund_column(totals, "NSTW_DT") == 50000
    assert fund_column(totals, "NSTW_SN") == 48468
    assert fund_column(totals, "DOI_UNG") == 1453
    assert fund_column(totals, "CHUYEN_DT") == 23581
    assert fund_column(totals, "CHUYEN_SN") == 8808
    assert fund_column(totals, "HUY_DONG") == 0
    assert fund_column(totals, "GN_DT") == Decimal("13334.47")
    assert fund_column(totals, "GN_SN") == Decimal("3908.53")
    investment = fund_column(totals, "NSTW_DT") + fund_column(totals, "CHUYEN_DT")
    recurrent = sum(fund_column(totals, c) for c in ("NSTW_SN", "DOI_UNG", "CHUYEN_SN", "HUY_DONG"))
    disbursed = fund_column(totals, "GN_DT") + fund_column(totals, "GN_SN")
    assert (investment, recurrent, investment + recurrent) == (73581, 58729, 132310)
    assert disbursed == 17243
    assert rate(disbursed, investment + recurrent) == 13
    assert rate(fund_column(totals, "GN_DT"), investment) == Decimal("18.1")
    assert rate(fund_column(totals, "GN_SN"), recurrent) == Decimal("6.7")


def test_disbursement_only_in_the_five_named_sub_projects(totals, catalogue):
    disbursing = {"DA1.TDA1", "DA1.TDA2", "DA3.TDA2", "DA4.TDA1", "DA7.TDA1"}
    for sub in catalogue.sub_projects:
        disbursed = total(totals, "02", sub.code, "GN_DT") + total(totals, "02", sub.code, "GN_SN")
        assert (disbursed > 0) == (sub.code in disbursing), sub.code


def test_da4_tda1_funds_at_the_labour_office_are_undisbursed(submissions):
    office = next(s for s in submissions if s.unit_code == "099-LDTBXH")
    values = {c.ref: c.value for c in office.cells}
    row = "DA4.TDA1"
    recurrent = sum(values[Ref("02", row, c)] for c in ("NSTW_SN", "DOI_UNG", "CHUYEN_SN", "HUY_DONG"))
    assert recurrent == 207
    assert values[Ref("02", row, "GN_SN")] == 0


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (("10", "LD_DUOC_KET_NOI"), ("10", "LD_NHU_CAU_KET_NOI"), "100.0"),
        (("08", "LD_DTTS_DUOC_DT"), ("08", "LD_DTTS_NHU_CAU_DT"), "100.0"),
        (("01", "NGUOI_HN_HCN_BHYT"), ("01", "NGUOI_HN_HCN"), "100.0"),
        (("07", "TE5_NHE_CAN"), ("07", "TE5_CAN_DO"), "14.7"),
        (("07", "TE5_THAP_COI"), ("07", "TE5_CAN_DO"), "29.3"),
        (("01", "TE_HN_HCN_DI_HOC"), ("01", "TE_HN_HCN_DO_TUOI"), "98.9"),
        (("01", "TE5_RA_LOP"), ("01", "TE5_TONG"), "99.9"),
        (("01", "HS6_10_HOC"), ("01", "HS6_10_TONG"), "99.8"),
        (("01", "HS11_14_HOC"), ("01", "HS11_14_TONG"), "98.7"),
        (("01", "HS15_18_HOC"), ("01", "HS15_18_TONG"), "72.7"),
        (("01", "NGUOI15_BIET_CHU"), ("01", "NGUOI15_TONG"), "99.3"),
        (("01", "LD_HN_QUA_DAO_TAO"), ("01", "LD_HN_TONG"), "71.9"),
        (("01", "LD_HN_CHUNG_CHI"), ("01", "LD_HN_TONG"), "22.4"),
        (("08", "LD_DUOC_DTKN"), ("08", "LD_NHU_CAU_DTKN"), "100.0"),
        (("12", "HO_VIEN_THONG_TIEP_CAN"), ("12", "HO_VIEN_THONG_NHU_CAU"), "90.0"),
        (("12", "HO_TIEP_CAN_TT"), ("12", "HO_DIA_BAN"), "95.0"),
        (("12", "XA_DBKK_DAI_TT"), ("12", "XA_DBKK"), "100.0"),
    ],
)
def test_report_rates(totals, numerator, denominator, expected):
    assert rate(total(totals, *numerator), total(totals, *denominator)) == Decimal(expected)


def test_water_and_latrines_over_poor_and_near_poor_households(totals):
    poor_or_near = total(totals, "01", "HO_NGHEO") + total(totals, "01", "HO_CAN_NGHEO")
    assert rate(total(totals, "01", "HO_NUOC_HVS"), poor_or_near) == 88
    assert rate(total(totals, "01", "HO_NHA_TIEU_HVS"), poor_or_near) == 48


def test_counts(totals):
    assert total(totals, "08", "DT_NGHE") == 491
    assert total(totals, "11", "NHA_KHOI_CONG") - total(totals, "11", "NHA_HOAN_THANH") == 266
    assert total(totals, "11", "NHA_HOAN_THANH") == 0
    assert total(totals, "09", "LD_DUOC_HO_TRO") == 0
    assert sum(total(totals, f, i) for f in ("05", "06") for i in ("HO_NGHEO", "HO_CAN_NGHEO")) == 0


def test_sample_is_accepted_without_a_single_finding(catalogue, sample_files):
    """Every rule holds for every unit, and no warning either (funds match outputs)."""
    results = check_files(catalogue, sample_files, "2023")
    assert len(results) == 24
    assert {r.path.name: r.findings for r in results if r.findings} == {}
    assert all(r.accepted for r in results)


def test_units_differ_and_the_town_is_least_poor(submissions):
    rates = {}
    for s in submissions:
        values = {c.ref: c.value for c in s.cells}
        if Ref("01", "HO_TONG") in values:
            rates[s.unit_code] = values[Ref("01", "HO_NGHEO")] / values[Ref("01", "HO_TONG")]
    assert len(set(rates.values())) == len(rates) == 19
    assert rates["03253"] == min(rates.values())


def test_sample_regenerates_byte_for_byte(catalogue, sample_files, tmp_path):
    written = write_sample(tmp_path, catalogue)
    assert sorted(p.name for p in written) == [p.name for p in sample_files]
    for path in written:
        assert path.read_bytes() == (SAMPLE_DIR / path.name).read_bytes(), path.name


def test_split_is_exact_and_respects_parents():
    assert sum(split(7966, [1.0, 2.5, 0.3, 4.1])) == 7966
    assert split(10, [1, 1, 1], minimum=2) == [4, 3, 3]
    parents = [10, 0, 50, 5]
    parts = split_within(60, parents, [1.0, 1.0, 0.1, 1.0])
    assert sum(parts) == 60 and all(p <= q for p, q in zip(parts, parents))
    with pytest.raises(ValueError):
        split_within(100, parents, [1.0] * 4)
