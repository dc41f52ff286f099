"""The contract between the generated workbooks and the reader, declared once: the fixed
sheets, the hidden markers and codes that locate every cell, the Thông tin fields that
identify a file, the kinds of file, and the plan workbook's columns. The template writes
these, the reader looks for them, the checks name them."""

# Sheets every generated workbook has besides the forms; a form may not take their names.
GUIDE_SHEET, INFO_SHEET, LIST_SHEET, PLAN_SHEET = "Hướng dẫn", "Thông tin", "Danh mục", "Kế hoạch"
FIXED_SHEETS = (GUIDE_SHEET, INFO_SHEET, LIST_SHEET, PLAN_SHEET)

UNIT_TEMPLATE_NAME = "mau-bao-cao-don-vi.xlsx"
PLAN_TEMPLATE_NAME = "mau-ke-hoach-huyen.xlsx"

# Markers in a sheet's top-left cell; codes sit in the marker's column (rows) and row (columns).
INFO_MARKER = "THONG_TIN"
PLAN_MARKER = "KE_HOACH"
FORM_MARKER_PREFIX = "BIEU:"
INFO_COLUMN = "GIA_TRI"  # the value column of the Thông tin sheet

# Fields of the Thông tin sheet.
UNIT_FIELD = "MA_DON_VI"
UNIT_NAME_FIELD = "TEN_DON_VI"
UNIT_KIND_FIELD = "LOAI_DON_VI"
PERIOD_FIELD = "KY_BAO_CAO"
PREPARER_FIELD = "NGUOI_LAP"
# Fields of the plan workbook's Thông tin sheet: who signs, the report's number and date.
SIGNER_FIELD = "NGUOI_KY"
SIGNER_TITLE_FIELD = "CHUC_VU_NGUOI_KY"
SIGNER_ON_BEHALF_FIELD = "KY_THAY"
REPORT_NUMBER_FIELD = "SO_BAO_CAO"
REPORT_DATE_FIELD = "NGAY_BAO_CAO"
# The plan's signature fields as the template labels them and the checks bound them:
# (code, label, most characters) for texts, (code, label) for dates.
PLAN_TEXT_FIELDS = (
    (PREPARER_FIELD, "Người lập", 60),
    (SIGNER_ON_BEHALF_FIELD, "Ký thay", 40),
    (SIGNER_TITLE_FIELD, "Chức vụ người ký", 60),
    (SIGNER_FIELD, "Người ký", 60),
    (REPORT_NUMBER_FIELD, "Số báo cáo", 20),
)
PLAN_DATE_FIELDS = ((REPORT_DATE_FIELD, "Ngày báo cáo"),)
VERSION_FIELD = "PHIEN_BAN_MAU"
FILE_KIND = "LOAI_TEP"  # UNIT_FILE for a unit submission, PLAN_FILE for the district plan
UNIT_FILE, PLAN_FILE = "don_vi", "ke_hoach"

# The plan workbook: per target, whether it is assessed this period, its plan, last year's result.
PLAN_FORM = "KH"  # the pseudo-form code of the plan's cells
PLAN_COLUMNS = (
    ("DANH_GIA", "Đánh giá trong kỳ này (Có/Không)"),
    ("KE_HOACH", "Kế hoạch năm"),
    ("THUC_HIEN_NAM_TRUOC", "Thực hiện năm trước"),
)
DUE_COLUMN, PLAN_COLUMN, LAST_YEAR_COLUMN = (code for code, _ in PLAN_COLUMNS)
YES, NO = "Có", "Không"
