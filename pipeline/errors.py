"""The one kind of error that is told to a person."""


class UserError(Exception):
    """A problem to tell a person (in Vietnamese), not a bug: commands print it without a traceback."""
