"""Reflection of the target schema, and the console's own tables."""
