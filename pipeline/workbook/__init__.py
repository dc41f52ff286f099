"""Workbooks in and out: the contract between template and reader, the template writer,
the reader, the byte inspection before any reader, and the official look."""
