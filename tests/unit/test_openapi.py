"""The OpenAPI document covers exactly the routes app.py serves, and is a valid OpenAPI 3 document."""

from __future__ import annotations

from openapi_spec_validator import validate

from chalicelib.openapi import document


def test_document_is_valid_openapi_3():
    validate(document())


def test_every_route_is_documented_and_nothing_else():
    from app import app

    served = {(path, method.lower()) for path, entries in app.routes.items() for method in entries}
    documented = {(path, method) for path, ops in document()["paths"].items() for method in ops}
    assert served == documented, {
        "undocumented": served - documented,
        "not served": documented - served,
    }
