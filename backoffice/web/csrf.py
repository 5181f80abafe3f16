"""CSRF protection for every POST: Flask-WTF's CSRFProtect plus a FlaskForm base."""
from __future__ import annotations

from flask import Flask
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect

__all__ = ["SecureForm", "init_app"]


class SecureForm(FlaskForm):
    """Base class of every form the console renders (Flask-Admin's included).

    Renders the hidden ``csrf_token`` field; CSRFProtect refuses a POST without
    a valid one with a visible 400 before any view runs.
    """


def init_app(app: Flask) -> CSRFProtect:
    protect = CSRFProtect()
    protect.init_app(app)
    app.extensions["backoffice.csrf"] = protect
    return protect
