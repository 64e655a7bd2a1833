"""No silent PII fallback: which detection is active is reported (and `rexai status` prints it), and a
Presidio failure is logged once with its reason."""

from __future__ import annotations

import json
import logging
import sys
import types

import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.observations import pii


@pytest.fixture(autouse=True)
def fresh_analyzer():
    pii._presidio_analyzer.cache_clear()
    yield
    pii._presidio_analyzer.cache_clear()


def fake_presidio(monkeypatch, engine) -> None:
    module = types.ModuleType("presidio_analyzer")
    module.AnalyzerEngine = engine
    monkeypatch.setitem(sys.modules, "presidio_analyzer", module)


def test_presidio_not_installed_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # import fails as if not installed
    assert pii.pii_path() == "regex+blocklist (presidio not installed)"
    assert not pii.presidio_available()


def test_presidio_failure_is_logged_once_with_its_reason(monkeypatch, caplog):
    def broken_engine():
        raise OSError("Can't find model 'en_core_web_lg'")

    fake_presidio(monkeypatch, broken_engine)
    with caplog.at_level(logging.WARNING, logger=pii.__name__):
        first, second = pii.pii_path(), pii.pii_path()
        assert not pii.default_scrubber().use_presidio
    assert first == second == "regex+blocklist (presidio failed: OSError: Can't find model 'en_core_web_lg')"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Can't find model 'en_core_web_lg'" in warnings[0].getMessage()


def test_working_presidio_is_reported(monkeypatch):
    fake_presidio(monkeypatch, lambda: object())
    assert pii.pii_path() == "presidio+regex+blocklist" and pii.presidio_available()


def test_presidio_switched_off_in_config(monkeypatch, config_override):
    fake_presidio(monkeypatch, lambda: object())
    config_override("observations.yaml", {"presidio": "off"})
    assert pii.pii_path() == "regex+blocklist (presidio off in config/observations.yaml)"


def test_status_prints_the_pii_path(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    assert rexai(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pii_path"] == "regex+blocklist (presidio not installed)"
    assert rexai(["status"]) == 0
    assert "pii path: regex+blocklist (presidio not installed)" in capsys.readouterr().out.splitlines()


def test_fold_of_ascii_text_is_the_character_by_character_fold():
    """The ASCII fast path of `fold` must give what the general path gives, offsets included."""
    import string

    from rexai_assets.observations import pii

    def slow(text: str) -> tuple[str, list[int]]:
        return pii.fold("\u00e9" + text)[0][1:], [i - 1 for i in pii.fold("\u00e9" + text)[1][1:]]

    samples = [string.printable, '{"items": [{"waste_id": "W003"}], "process_id": "P02"}', "Ana.MARIA-Lopez", ""]
    for text in samples:
        assert pii.fold(text) == slow(text)
    assert pii.fold("Zoë Ærø") == ("zoe aero", [0, 1, 2, 3, 4, 4, 5, 6])  # the general path still folds accents
    scrubber = pii.PiiScrubber(names=("Ana Lopez",))
    assert [m.text for m in scrubber.find("call ANA_lopez now")] == ["ANA_lopez"]
