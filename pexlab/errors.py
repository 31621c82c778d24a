"""The base of every error pexlab raises, so callers can catch them all in one place."""

from __future__ import annotations


class PexlabError(Exception):
    """Something pexlab could not do; the message names the cause and the fix."""
