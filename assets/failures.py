"""Problems told to people, in the Dagster UI too: an asset's ``UserError`` (bad input, a full
disk, a read-only folder, the database held too long) fails its step as a ``dagster.Failure``
whose description is the Vietnamese line, without a Python traceback."""

from __future__ import annotations

import functools
import inspect

import dagster as dg

from pipeline.errors import UserError


def told(fn):
    """Wrap an asset function (plain or generator) so a UserError becomes a dagster.Failure."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except UserError as e:
                raise dg.Failure(description=str(e), allow_retries=False) from None
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
    return function
