"""Intake: the inbox and what is new in it, the archive of every received file, and taking
units' files in (check, archive, load), including the rebuild from the archive."""
