"""Benchmarks behind ``scripts/bench_*.py``; the library never imports this package."""
