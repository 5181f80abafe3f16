"""Backoffice: a low-code operator console generated from an existing SQL schema.

The app factory is :func:`console.app.create_app`; ``wsgi.py`` serves it.
"""
