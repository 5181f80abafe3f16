"""The demo catalog: schema, deterministic generator and a fast loader."""
from backoffice.demo.generator import DefectCounts, generate
from backoffice.demo.loader import seed_demo

__all__ = ["DefectCounts", "generate", "seed_demo"]
