"""The progress primitives: one phase list, one `report`, one text printer."""

from __future__ import annotations

import io

import pytest

from pexlab.core.progress import PHASE_LABELS, PHASES, ProgressEvent, TextProgress, report


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_every_phase_has_a_label_and_unknown_phases_are_refused() -> None:
    assert set(PHASE_LABELS) == set(PHASES)
    assert {"spark", "check"} <= set(PHASES)
    with pytest.raises(ValueError, match="unknown progress phase"):
        ProgressEvent("compile", None)


def test_report_sends_to_a_callback_and_tolerates_none() -> None:
    got: list[ProgressEvent] = []
    report(got.append, "spark", None, "spark://h:7077")
    report(None, "spark", None, "nobody listens")
    assert got == [ProgressEvent("spark", None, "spark://h:7077")]


def test_text_on_a_terminal_is_one_line_updated_in_place() -> None:
    out = _Terminal()
    text = TextProgress(out)
    for i in range(5):
        text(ProgressEvent("build", i / 4, "pex"))
    text(ProgressEvent("build", 1.0, "pex"))  # same line again: not rewritten
    text.line("pexlab: done")
    value = out.getvalue()
    assert value.count("\r\033[K") == 5
    assert "\n" not in value.split("pexlab: done")[0][:-1]
    assert value.endswith("\npexlab: done\n")


def test_text_stays_quiet_for_fast_work() -> None:
    out = io.StringIO()
    text = TextProgress(out, quiet_for=3600)
    text(ProgressEvent("inspect", None, "x"))
    text.close()
    assert out.getvalue() == ""
