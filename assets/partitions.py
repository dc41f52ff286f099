"""Partitions of the submission assets: one per (period, unit), from the catalogue."""

import dagster as dg

from pipeline.catalogue import default_catalogue

PERIOD, UNIT = "period", "unit"

_catalogue = default_catalogue()
period_partitions = dg.StaticPartitionsDefinition(list(_catalogue.periods))
unit_partitions = dg.StaticPartitionsDefinition([u.code for u in _catalogue.units])
submission_partitions = dg.MultiPartitionsDefinition({PERIOD: period_partitions, UNIT: unit_partitions})


def submission_key(period: str, unit: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({PERIOD: period, UNIT: unit})
