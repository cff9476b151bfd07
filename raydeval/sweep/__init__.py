"""Nightly sweeps: the jobs of a sweep file evaluated one after another, each result appended to
a Parquet history, unchanged jobs skipped and metric drops reported as regressions.

`config` reads and validates sweep files, `compare` holds the pure decisions (skip, regression,
exit status), `store` the history dataset and summaries, `runner` the sweep itself and
`report` the text tables.
"""
