"""Partitions of the submission assets: one per (period, batch of units).

The settings' batch level and unit list make them: a unit per partition for a district, a
district or a province per partition for a larger unit list (``TUANGIAO_UNITS``,
``TUANGIAO_BATCH``, or ``python -m assets run --units --batch``). The second dimension is
named after the level."""

import dagster as dg

from pipeline.catalogue.batches import batch_keys
from pipeline.settings import Settings

PERIOD = "period"


def submission_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    catalogue, level = settings.catalogue, settings.batch_level
    return dg.MultiPartitionsDefinition({PERIOD: dg.StaticPartitionsDefinition(list(catalogue.periods)),
                                         level: dg.StaticPartitionsDefinition(batch_keys(catalogue, level))})


def submission_key(period: str, batch: str, level: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({PERIOD: period, level: batch})
