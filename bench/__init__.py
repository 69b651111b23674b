"""Benchmarks run by ``make bench``; each script measures its subject against a baseline."""
