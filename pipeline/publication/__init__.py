"""Publication: Biểu 01–15 as tables from the warehouse, written as workbooks, the
submission status, and where each published figure comes from."""
