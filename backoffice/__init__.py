"""Backoffice: a low-code operator console generated from an existing SQL schema."""
from .app import create_app

__all__ = ["create_app"]
