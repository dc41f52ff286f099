"""Partitions of the submission assets: one per (period, batch of units).

The settings' batch level and unit list make them: a unit per partition for a district, a
district or a province per partition for a larger unit list (``TUANGIAO_UNITS``,
``TUANGIAO_BATCH``, or ``python -m assets run --units --batch``). The second dimension is
named after the level. Keys stay ASCII codes; the code location's metadata names each one
in Vietnamese (``partition_names``), as the run's tags and the materializations do."""

import dagster as dg

from assets.tables import table
from pipeline.catalogue.batches import UNIT, batch_key, batch_keys, batch_label
from pipeline.settings import Settings

PERIOD = "period"
NAMED_PARTITIONS = 1000  # a national unit list by unit would make a table too big for the UI


def submission_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    catalogue, level = settings.catalogue, settings.batch_level
    periods = [key for key, period in catalogue.periods.items() if not period.is_phase]  # a phase is never sent
    return dg.MultiPartitionsDefinition({PERIOD: dg.StaticPartitionsDefinition(periods),
                                         level: dg.StaticPartitionsDefinition(batch_keys(catalogue, level))})


def submission_key(period: str, batch: str, level: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({PERIOD: period, level: batch})


def partition_names(settings: Settings) -> dg.TableMetadataValue:
    """Each batch key (the partitions' second dimension, first ``NAMED_PARTITIONS``) with its name."""
    names: dict[str, str] = {}
    for unit in settings.catalogue.reporting_units():
        names.setdefault(batch_key(unit, settings.batch_level),
                         unit.name if settings.batch_level == UNIT else batch_label(unit, settings.batch_level))
    rows = list(names.items())[:NAMED_PARTITIONS]
    if len(names) > NAMED_PARTITIONS:
        rows.append(("…", f"còn {len(names) - NAMED_PARTITIONS} phân vùng nữa"))
    return table(("Mã phân vùng", "Tên"), rows)
