"""Benchmarks that print figures (run by hand on the machine they describe, never timed in tests)."""
