"""The one base class of every error pexlab raises on purpose.

An error deriving from `PexlabError` carries a message meant for the user (what went wrong and
what to do); anything else escaping pexlab is a bug and keeps its traceback (see `pexlab.cli`).
It is a `RuntimeError`, as each of pexlab's errors was before they shared a base, so code that
caught `RuntimeError` keeps working.
"""

from __future__ import annotations


class PexlabError(RuntimeError):
    """Base of every pexlab error whose message is meant for the user."""
