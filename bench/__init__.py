"""Benchmark harness of raydeval: workload generators (`bench.generate`) and the harness (`bench.harness`)."""
