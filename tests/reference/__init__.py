"""The reference export path: simple whole-partition writers (xlsxwriter for XLSX) that the
tests and the benchmark compare the production fast path (ybb_engine.fastexport) with.
Never imported by production code."""
