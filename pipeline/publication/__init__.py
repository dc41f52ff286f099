"""Publication: the Biểu (laid out in the catalogue) as tables from the warehouse, written as workbooks, the
submission status, and where each published figure comes from."""
