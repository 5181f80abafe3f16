"""The demo catalog: schema, deterministic generator and a fast loader."""
from .generator import DefectCounts, generate
from .loader import seed_demo

__all__ = ["DefectCounts", "generate", "seed_demo"]
