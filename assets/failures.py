"""Problems told to people, in the Dagster UI too: an asset's ``UserError`` (bad input, a full
disk, a read-only folder, the database held too long) fails its step as a ``dagster.Failure``
whose description is the Vietnamese line, without a Python traceback. So does a machine fault
met anywhere in a step that no writer of the pipeline translated (an ``OSError`` of a full disk
or a missing permission, DuckDB's "Could not write file … No space left on device"): one line
naming the place."""

from __future__ import annotations

import functools
import inspect

import dagster as dg

from pipeline.errors import UserError, machine_error, machine_fault, machine_fault_named


def _told(error: Exception) -> dg.Failure | None:
    """The Failure telling ``error`` to people, or None for a bug (its traceback is kept)."""
    if isinstance(error, UserError):
        return dg.Failure(description=str(error), allow_retries=False)
    fault = machine_fault(error) or machine_fault_named(str(error), None)
    if fault is None:
        return None
    return dg.Failure(description=str(machine_error(fault)), allow_retries=False)


def told(fn):
    """Wrap an asset function (plain or generator) so a UserError becomes a dagster.Failure."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                failure = _told(e)
                if failure is None:
                    raise
                raise failure from None
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            failure = _told(e)
            if failure is None:
                raise
            raise failure from None
    return function
