"""A report of findings: the one object the command line, the page, Dagster and the feedback
workbook render from. Like frictionless' ``Report``, it holds the findings, counts them, gives
the verdict and flattens them into rows of the same columns, with Vietnamese headers, for
every output; it renders them itself as lines for a terminal and as a Markdown table for
Dagster, while the page and the workbook lay its rows out in their own way."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.checking.findings import Finding, FindingCounts

ACCEPTED, REFUSED, UNREADABLE = "ĐƯỢC CHẤP NHẬN", "KHÔNG ĐƯỢC CHẤP NHẬN", "KHÔNG ĐỌC ĐƯỢC"
COLUMNS = (("severity", "Mức độ"), ("sheet", "Sheet"), ("cell", "Ô"), ("item_label", "Chỉ tiêu"),
           ("value", "Giá trị"), ("message", "Nội dung"))
UNIT_COLUMN = ("unit", "Đơn vị")


@dataclass
class FindingsReport(FindingCounts):
    """The findings of one file (``readable``: whether it could be read at all) or of a batch
    of files (``with_unit``: a first column names each finding's unit)."""

    findings: list[Finding] = field(default_factory=list)
    readable: bool = True
    with_unit: bool = False

    @property
    def accepted(self) -> bool:
        return self.readable and self.errors == 0

    @property
    def verdict(self) -> str:
        return ACCEPTED if self.accepted else REFUSED if self.readable else UNREADABLE

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(field of a finding, Vietnamese header) of each column of the rows."""
        return ((UNIT_COLUMN,) if self.with_unit else ()) + COLUMNS

    @property
    def headers(self) -> list[str]:
        return [header for _, header in self.columns]

    def flatten(self) -> list[list[str]]:
        """One row per finding, its values in the order of ``columns``."""
        return [[str(getattr(f, key)) for key, _ in self.columns] for f in self.findings]

    def as_dict(self) -> dict:
        """The verdict, the counts and every finding, for JSON."""
        return {"verdict": self.verdict, "accepted": self.accepted, "errors": self.errors, "warnings": self.warnings,
                "findings": [f.as_dict() for f in self.findings]}

    def lines(self, file_name: str) -> list[str]:
        """For a terminal: the verdict with the counts, then each finding's line."""
        head = f"Tệp {file_name}: {self.verdict} – {self.errors} lỗi, {self.warnings} cảnh báo."
        return [head, *(f"  {f.line()}" for f in self.findings)]

    def markdown(self, limit: int) -> str:
        """A Markdown table of the first ``limit`` rows, and how many more the feedback files hold."""
        if not self.findings:
            return "Không có lỗi hay cảnh báo."
        rows = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.columns)]
        rows += ["| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |"
                 for cells in self.flatten()[:limit]]
        if len(self.findings) > limit:
            rows.append(f"| … |{' |' * (len(self.columns) - 2)} còn {len(self.findings) - limit} phát hiện nữa trong "
                        "các tệp phản hồi |")
        return "\n".join(rows)

