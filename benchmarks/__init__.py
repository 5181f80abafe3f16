"""Benchmarks, load tests and their helpers: outside the product package, never in the wheel or the image."""
