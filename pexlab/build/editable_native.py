"""Editable installs pexlab cannot ship faithfully fail the build, with the project and the fix.

An editable install points the kernel at its code through something pexlab must read (a .pth
path, setuptools' finder mapping, an .egg-link, meson-python's loader and install plan,
scikit-build-core's redirect maps).  An installer pexlab does not know may leave only a custom
import hook: pexlab then only guessed a folder, and a zip of a guess may lack code (compiled
modules in a build folder) or hold the wrong code, which would surface on the executors as an
ImportError far from its cause, or worse, run.  So such a project stops the build here instead.
"""

from __future__ import annotations

from pexlab.core.errors import PexlabError
from pexlab.environment.interpreter import Distribution

UNKNOWN = "unknown"  # Editable.mechanism when the probe guessed the source folder


class UnshippableEditable(PexlabError):
    """An editable project whose code pexlab cannot locate for the executors."""


def check_shippable(dist: Distribution) -> None:
    """Raise UnshippableEditable if pexlab could not tell how `dist`'s editable install finds
    its code."""
    ed = dist.editable
    if ed is None or ed.mechanism != UNKNOWN:
        return
    where = ed.project_dir or "its project folder"
    raise UnshippableEditable(
        f"pexlab cannot tell how the editable install of {dist.name} {dist.version} finds its "
        f"code (its installer left no path or mapping pexlab can read, only an import hook; "
        f"project: {where}), so it cannot ship that code to the executors. Fix: install it "
        f"normally so that it goes into the PEX (`pip install {where}`), or, for a pure-Python "
        f"project, with a .pth-based editable install (setuptools: `pip install -e {where} "
        f"--config-settings editable_mode=compat`); or leave editable projects out "
        f"(include_editable=False)."
    )


__all__ = ["UNKNOWN", "UnshippableEditable", "check_shippable"]
