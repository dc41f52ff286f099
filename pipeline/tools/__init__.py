"""Tools, not tests: the 2023 sample and the national inbox generators, the hostile
corpus generator, the benchmark suite, and the LibreOffice and poppler helpers."""
