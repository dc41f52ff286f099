"""Where the command line's and the tests' conversions used to live: now ``pipeline.office``
(shared with the publication's PDF set); the names are kept for their users."""

from pipeline.office import PDFTOPPM, SOFFICE, OfficeError, convert, convert_all, pdf_to_png

__all__ = ["PDFTOPPM", "SOFFICE", "OfficeError", "convert", "convert_all", "pdf_to_png"]
