"""Checking a submission: findings, the pandera schemas and rules from the catalogue, the
checks across forms, and the feedback workbook sent back to a unit."""
