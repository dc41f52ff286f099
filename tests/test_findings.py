"""The registry of finding kinds: each code declared once with its severity, Vietnamese
title and message template; the README's table of codes is the registry's."""

from __future__ import annotations

import string
import unicodedata

from pipeline.checking.findings import REGISTRY, codes_table, finding
from pipeline.text import Severity
from tests.conftest import ROOT


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_each_code_is_declared_once_with_a_vietnamese_title():
    codes = [kind.code for kind in REGISTRY]
    assert len(codes) == len(set(codes))
    for kind in REGISTRY:
        assert kind.code.isascii() and kind.code == kind.code.lower(), kind.code
        assert kind.severity in tuple(Severity), kind.code
        assert kind.title and unicodedata.normalize("NFC", kind.title) == kind.title, kind.code
        for template in (kind.template, *dict(kind.variants).values()):
            assert unicodedata.normalize("NFC", template) == template, kind.code


def test_every_template_is_filled_from_named_values():
    for kind in REGISTRY:
        for variant, template in (("", kind.template), *kind.variants):
            values = {name: f"<{name}>" for name in _placeholders(template)}
            made = finding(kind, variant, **values)
            assert (made.code, made.severity) == (kind.code, kind.severity)
            assert all(f"<{name}>" in made.message for name in values), (kind.code, variant)
            assert getattr(made, "cell", "") == values.get("cell", "")  # location values are stored too


def test_readme_table_of_codes_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert codes_table() in readme, "paste pipeline.checking.findings.codes_table() into README.md:\n" + codes_table()
