"""The ground floor's words and numbers: Vietnamese numbers through babel, name lists, slugs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.text import name_list, show_number, slug


@pytest.mark.parametrize(("value", "places", "shown"), [
    (Decimal("13334.47"), None, "13.334,47"),
    (132310, None, "132.310"),
    (Decimal("41.20"), None, "41,2"),
    (Decimal("-0"), None, "0"),
    (1.5904683, 1, "1,6"),  # seconds of a progress line: a float with a long binary expansion
    (12345.678, 0, "12.346"),
    (Decimal("-0.04"), 1, "0,0"),
    (Decimal("123456789012345678901234567890.5"), None, "123.456.789.012.345.678.901.234.567.890,5"),
    (Decimal("1E+40"), None, "1,000000E+40"),
    (None, None, "(trống)"),
])
def test_numbers_are_written_as_vietnamese_write_them(value, places, shown):
    assert show_number(value, places) == shown


def test_a_long_list_of_names_ends_with_a_count():
    names = [f"Xã {n}" for n in range(1, 1236)]
    assert name_list(names, limit=2) == "Xã 1, Xã 2 và 1.233 đơn vị khác"
    assert name_list(["Xã Tỏa Tình"]) == "Xã Tỏa Tình"


def test_slug_is_an_ascii_file_name_part():
    assert slug("Xã Tỏa Tình") == "xa-toa-tinh"
    assert slug("Phòng Tài chính - Kế hoạch") == "phong-tai-chinh-ke-hoach"
