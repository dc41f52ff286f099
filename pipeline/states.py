"""The states of a submission, one vocabulary each. Their values are what the warehouse, the
JSON files of the data folder and Dagster's tags hold (data written before reads the same);
their labels are what people read.

- ``Verdict``: what checking one file concluded (the warehouse's ``submissions.status``, an
  upload's record and the audit log);
- ``ArrivalState``: an intake's look at a unit that found no file to check, or could not keep it;
- ``SubmissionState``: a unit's state in a period (``status.json``, the page's grid and its CSS
  classes, the tag ``tuangiao/trang_thai`` on each materialization)."""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    """A state stored as its value and told to people by its label."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class Verdict(_Labelled):
    VALID = "valid", "Hợp lệ"
    INVALID = "invalid", "Không hợp lệ"  # errors: kept and shown, its figures not used
    UNREADABLE = "unreadable", "Không đọc được"  # refused: not a workbook readable as a report
    OTHER_UNIT = "other_unit", "Của đơn vị khác"  # refused at upload: the report of another unit
    NOT_UNIT_REPORT = "not_unit_report", "Không phải báo cáo của đơn vị"  # refused at upload: a plan, say
    NOT_PLAN = "not_plan", "Không phải kế hoạch"  # refused at an officer's upload of the plan

    @classmethod
    def _missing_(cls, value: object) -> Verdict | None:
        """An upload record or audit line written before the verdicts were one vocabulary."""
        return _EARLIER_VERDICTS.get(value)


_EARLIER_VERDICTS = {"hop_le": Verdict.VALID, "co_loi": Verdict.INVALID, "khong_doc_duoc": Verdict.UNREADABLE,
                     "don_vi_khac": Verdict.OTHER_UNIT}


class ArrivalState(_Labelled):
    MISSING = "missing", "Chưa nộp"  # no file of the unit in the inbox
    CLOSED = "closed", "Kỳ đã khóa sổ"  # archived, never loaded: the period is closed
    GONE = "gone", "Tệp vừa đổi tên hoặc bị xoá, chờ lần sau"  # vanished while read: the next look takes it in


class SubmissionState(_Labelled):
    VALID = "hop_le", "Hợp lệ"
    INVALID = "khong_hop_le", "Không hợp lệ"
    MISSING = "chua_nop", "Chưa nộp"

    @classmethod
    def of(cls, verdict: str) -> SubmissionState:
        """The state of a unit whose latest file got ``verdict`` (the unit has sent one)."""
        return cls.VALID if verdict == Verdict.VALID else cls.INVALID


class ReviewState(_Labelled):
    """A unit's review state in a period (``pipeline.review``): automatic until an officer
    decides, and back to "đã nhận" when a new valid version comes after a decision."""

    MISSING = "chua_nop", "Chưa nộp"  # nothing received
    RECEIVED = "da_nhan", "Đã nhận"  # a valid version in use, not decided on yet
    INVALID = "co_loi", "Có lỗi"  # only invalid files, or the latest file has errors
    RETURNED = "can_giai_trinh", "Cần giải trình"  # returned by an officer with a comment
    APPROVED = "da_duyet", "Đã duyệt"  # the version in use approved by an officer
