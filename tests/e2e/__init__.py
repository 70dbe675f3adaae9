"""Browser tests.

A package so that this folder's conftest.py is imported as ``e2e.conftest``: without it, pytest
would import it as a second top-level ``conftest`` module and replace tests/conftest.py in
``sys.modules``, breaking ``from conftest import ...`` in the tests beside it.
"""
