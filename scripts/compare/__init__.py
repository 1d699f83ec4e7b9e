"""The side-by-side benchmark's parts (scripts/bench_compare.py is the entry point).

processes: start, wait for, stop a server; systems: what is compared; manifests: the examples made
benchmarkable; litellm: its on-demand venv; loadgen: wrk and aiohttp load; procstat: CPU and RSS
from /proc; profile: py-spy; report: medians, ratios within rounds, tables.
"""
