"""Batches of units taken in together, by configuration.

A district takes in each unit on its own (``unit``: a run per unit, as officers follow
them). A province or the whole country groups its communes by ``district`` or by
``province``: one run checks a whole batch, the pandera schemas run once per form over it,
and the number of runs stays in the hundreds, not ten thousand. Each unit still gets its
own findings, feedback workbook and row in the status table.
"""

from __future__ import annotations

from pipeline.catalogue.model import Catalogue, Unit

UNIT, DISTRICT, PROVINCE = "unit", "district", "province"
LEVELS = (UNIT, DISTRICT, PROVINCE)
LEVEL_LABELS = {UNIT: "đơn vị", DISTRICT: "huyện", PROVINCE: "tỉnh"}


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f'Cấp gom đơn vị "{level}" không hợp lệ: chọn một trong {", ".join(LEVELS)}.')
    return level


def batch_key(unit: Unit, level: str) -> str:
    """The batch a unit belongs to: its own code, its district's (its province's, for a commune
    of after 1/7/2025, which has no district) or its province's code."""
    district = unit.district_code or unit.province_code
    return {UNIT: unit.code, DISTRICT: district, PROVINCE: unit.province_code}[check_level(level)]


def batch_keys(catalogue: Catalogue, level: str) -> list[str]:
    """Every batch of the unit list, in list order (partition keys)."""
    return list(dict.fromkeys(batch_key(u, level) for u in catalogue.reporting_units()))


def batch_units(catalogue: Catalogue, period: str, level: str, key: str) -> list[Unit]:
    """The units of a batch that are valid in the period."""
    return [u for u in catalogue.units_in(period) if batch_key(u, level) == key]


def batch_label(unit: Unit, level: str) -> str:
    """How people call the batch a unit is in: "03259 – Xã Phình Sáng", "Huyện Tuần Giáo", "Tỉnh Điện Biên"."""
    return {UNIT: unit.label, DISTRICT: unit.district_name or unit.province_name, PROVINCE: unit.province_name}[level]


def batch_name(catalogue: Catalogue, level: str, key: str) -> str:
    """``batch_label`` of a batch given by its key."""
    return batch_label(next(u for u in catalogue.reporting_units() if batch_key(u, level) == key), level)
