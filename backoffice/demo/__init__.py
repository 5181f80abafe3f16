"""The demo catalog: schema, deterministic generator, a fast loader, and its declarative file."""
from pathlib import Path

from backoffice.demo.generator import DefectCounts, generate
from backoffice.demo.loader import seed_demo

__all__ = ["DefectCounts", "generate", "seed_demo", "DEMO_DECLARATIONS"]

#: The demo catalog's own declarative file: the embedded default console uses it
#: when ``BACKOFFICE_CONFIG`` is unset and there is no ``backoffice.toml``.
DEMO_DECLARATIONS = Path(__file__).with_name("demo.toml")
