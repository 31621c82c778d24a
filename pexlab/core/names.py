"""Distribution names compared the way pip and PyPI compare them (PEP 503).

The stdlib-only probe (`pexlab/environment/probe.py`) runs inside another interpreter and cannot import pexlab, so
it keeps its own one-line copy; `tests/test_environment.py` pins the two to the same result.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalisation, so `Scikit_Learn` and `scikit-learn` compare equal."""
    return _SEPARATORS.sub("-", name).lower()
