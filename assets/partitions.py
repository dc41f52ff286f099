"""Partitions of the submission assets: one per (period, batch of units).

The batch level comes from the environment the code location starts in (TUANGIAO_BATCH):
a unit per partition for a district, a district or a province per partition for a larger
unit list (TUANGIAO_UNITS). The second dimension is named after the level."""

import dagster as dg

from assets.resources import settings_from_environment
from pipeline.catalogue.batches import batch_keys

PERIOD = "period"

_settings = settings_from_environment()
BATCH = _settings.batch_level
period_partitions = dg.StaticPartitionsDefinition(list(_settings.catalogue.periods))
batch_partitions = dg.StaticPartitionsDefinition(batch_keys(_settings.catalogue, BATCH))
submission_partitions = dg.MultiPartitionsDefinition({PERIOD: period_partitions, BATCH: batch_partitions})


def submission_key(period: str, batch: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({PERIOD: period, BATCH: batch})
