"""The one error every "refused, do not retry" error derives from. It lives at the bottom of the functions' import
graph (it imports nothing of theirs), so configuration, event parsing and sources can refuse without importing the
outcomes the flows report (tests/test_import_graph.py keeps the graph free of circles)."""

from __future__ import annotations


class RefusedError(Exception):
    """Bad input or a source refused on purpose: the same invocation would fail the same way again, so retrying
    cannot help; the message says what to fix."""
