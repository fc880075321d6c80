"""Benchmarks of hautflow, run by their own command and never by the test suite.

``python -m bench.ingest_bench --help``: the ingest against an emulator with realistic latency
and a rate limit, beside the rate limit's ideal and the vendor guide's one-at-a-time loop, and
the ingest's peak memory at two sizes. The figures go to BENCHMARKS.md.
"""
