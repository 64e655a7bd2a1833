"""Privacy for observations: keyed pseudonyms for operator ids and scrubbing of free text.

- `pseudonymize(value, key)` replaces an operator id by a keyed HMAC-SHA256 (stable for one key,
  unlinkable without it). The key comes from `REXAI_PII_KEY`, else from `<data root>/secrets/pii_hmac.key`,
  created once (0600, race-safe: written to a private temp file, then hard-linked into place).
- `PiiScrubber` finds / replaces e-mail addresses, phone numbers and the personal names of
  `config/pii_blocklist.yaml` (accent- and case-insensitive), plus whatever Presidio's analyzer
  finds when it is importable and its model loads (it is optional; the regex path stands alone, and
  `pii_path()` says which path is active and why: `rexai status` prints it).
- `find_pii(texts)` is the detector the observation and gold asset checks share.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable, Literal

from rexai_assets import settings

logger = logging.getLogger(__name__)

PII_KEY_ENV = "REXAI_PII_KEY"
KEY_FILE_NAME = "pii_hmac.key"
BLOCKLIST_FILE = "pii_blocklist.yaml"
OBSERVATIONS_FILE = "observations.yaml"

Kind = Literal["email", "phone", "name"]
ALL_KINDS: tuple[Kind, ...] = ("email", "phone", "name")
REPLACEMENTS: dict[str, str] = {"email": "[EMAIL]", "phone": "[PHONE]", "name": "[NAME]"}


class PiiBlocklist(settings.StrictModel):
    names: tuple[str, ...] = ()


class ObservationsSettings(settings.StrictModel):
    future_tolerance_minutes: float = 60.0
    presidio: Literal["auto", "off"] = "auto"
    pseudonym_hex_digits: int = 24


def observations_settings() -> ObservationsSettings:
    return settings.load(OBSERVATIONS_FILE, ObservationsSettings)


# ---------------------------------------------------------------------------------------------
# Keyed pseudonyms


def pii_key(secrets_dir: str | Path) -> bytes:
    """The HMAC key: `REXAI_PII_KEY` if set, else the key file under `secrets_dir` (created once)."""
    from_env = os.environ.get(PII_KEY_ENV)
    if from_env:
        return from_env.encode("utf-8")
    directory = Path(secrets_dir)
    path = directory / KEY_FILE_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(prefix=".pii_key.", dir=directory)  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                # link() fails if another process won the race, and readers never see a half-written key.
                os.link(tmp_name, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp_name)
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"{path}: empty PII key file")
    return key.encode("utf-8")


def pseudonymize(value: Any, key: bytes, digits: int | None = None) -> str | None:
    """`op-` + the first `digits` hex digits of HMAC-SHA256(key, operator id); None stays None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    digits = digits or observations_settings().pseudonym_hex_digits
    return "op-" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:digits]


# ---------------------------------------------------------------------------------------------
# Detection and scrubbing

EMAIL_RE = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
# Candidate phone numbers; `_looks_like_phone` then throws out dates, decimals and number lists.
PHONE_RE = re.compile(r"(?<![\w+\-/])(?:\+|00)?\(?\d{1,4}\)?(?:[ .\-]{0,2}\(?\d{1,5}\)?){1,6}(?!\w)")
DATE_RE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
# Letters that NFKD does not decompose but people type without the accent.
_TRANSLITERATE = {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "ð": "d", "þ": "th"}


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not 7 <= digits <= 15:
        return False
    if candidate.startswith(("+", "00")) or "(" in candidate:
        return True
    separators = set(re.findall(r"[ .\-]", candidate))
    if not separators or DATE_RE.fullmatch(candidate):
        return False
    # Without a country code, only dash/dot-grouped numbers count ("555-0100"); a single dot is a
    # decimal and space-separated numbers are usually a list of readings.
    if " " in separators:
        return False
    if separators == {"."} and candidate.count(".") == 1:
        return False
    return True


def fold(text: str) -> tuple[str, list[int]]:
    """Accent-free casefolded text and, for each of its characters, the index in `text` it came from."""
    if text.isascii():
        # ASCII has no accents or ligatures, and casefolds one character to one: the slow path gives the
        # same (tested), character by character; the gold check folds 40,000 ids and specs per retrain.
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        lowered = char.casefold()
        lowered = "".join(_TRANSLITERATE.get(c, c) for c in lowered)
        decomposed = unicodedata.normalize("NFKD", lowered)
        for piece in decomposed:
            if unicodedata.combining(piece):
                continue
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PiiFinding:
    """One hit of `find_pii`: which input (`index`), what kind, the matched text."""

    index: int
    kind: str
    match: str


@dataclass(frozen=True)
class PiiScrubber:
    names: tuple[str, ...] = ()
    use_presidio: bool = False

    @cached_property
    def _name_re(self) -> re.Pattern[str] | None:
        alternatives = []
        for name in self.names:
            folded, _ = fold(name)
            tokens = [t for t in re.split(r"[\s._\-]+", folded) if t]
            if tokens:
                alternatives.append(r"[\s._\-]+".join(re.escape(t) for t in tokens))
        if not alternatives:
            return None
        alternatives.sort(key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")

    def find(self, text: str, kinds: Iterable[str] = ALL_KINDS) -> list[PiiMatch]:
        """Non-overlapping PII spans of `text`, by position."""
        kinds = set(kinds)
        found: list[PiiMatch] = []
        if "email" in kinds:
            found += [PiiMatch("email", m.start(), m.end(), m.group()) for m in EMAIL_RE.finditer(text)]
        if "phone" in kinds:
            found += [PiiMatch("phone", m.start(), m.end(), m.group()) for m in PHONE_RE.finditer(text)
                      if _looks_like_phone(m.group())]
        if "name" in kinds and self._name_re is not None:
            folded, origin = fold(text)
            for m in self._name_re.finditer(folded):
                start, end = origin[m.start()], origin[m.end() - 1] + 1
                found.append(PiiMatch("name", start, end, text[start:end]))
        if self.use_presidio:
            found += [m for m in _presidio_matches(text) if m.kind in kinds]
        # Longest span first at equal starts; drop spans inside an earlier one (the e-mail wins
        # over the name inside "ana.perez@habitat.mars").
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[PiiMatch] = []
        for match in found:
            if kept and match.start < kept[-1].end:
                continue
            kept.append(match)
        return kept

    def scrub(self, text: Any) -> Any:
        """`text` with every PII span replaced by [EMAIL] / [PHONE] / [NAME]; non-strings pass through."""
        if not isinstance(text, str) or not text:
            return text
        pieces: list[str] = []
        position = 0
        for match in self.find(text):
            pieces.append(text[position:match.start])
            pieces.append(REPLACEMENTS[match.kind])
            position = match.end
        pieces.append(text[position:])
        return "".join(pieces)

    def scrub_json_value(self, value: Any) -> Any:
        """Scrub every string inside a parsed JSON value (free sensor readings may carry notes)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_json_value(v) for k, v in value.items()}
        return value


@lru_cache(maxsize=1)
def _presidio_analyzer() -> tuple[Any, str]:
    """(Presidio's analyzer, "") or (None, why not); tried once per process, a failure logged once."""
    try:
        from presidio_analyzer import AnalyzerEngine  # optional, not a dependency
    except ImportError:
        logger.info("PII detection without Presidio: presidio not installed")
        return None, "presidio not installed"
    try:
        return AnalyzerEngine(), ""
    except Exception as exc:  # e.g. its spaCy model is missing: the regex path stands alone, and says so
        reason = f"presidio failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else '-'}"
        logger.warning("PII detection falls back to regex + blocklist (%s)", reason)
        return None, reason


_PRESIDIO_KINDS = {"PERSON": "name", "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone"}


def _presidio_matches(text: str) -> list[PiiMatch]:
    analyzer, _ = _presidio_analyzer()
    if analyzer is None:
        return []
    results = analyzer.analyze(text=text, entities=list(_PRESIDIO_KINDS), language="en")
    return [PiiMatch(_PRESIDIO_KINDS[r.entity_type], r.start, r.end, text[r.start:r.end])
            for r in results if r.score >= 0.5]


def presidio_available() -> bool:
    return _presidio_analyzer()[0] is not None


def pii_path() -> str:
    """The PII detection in use: "presidio+regex+blocklist", or "regex+blocklist (<why not Presidio>)"."""
    if observations_settings().presidio == "off":
        return "regex+blocklist (presidio off in config/observations.yaml)"
    analyzer, reason = _presidio_analyzer()
    return "presidio+regex+blocklist" if analyzer is not None else f"regex+blocklist ({reason})"


@lru_cache(maxsize=8)
def _scrubber(names: tuple[str, ...], use_presidio: bool) -> PiiScrubber:
    return PiiScrubber(names=names, use_presidio=use_presidio)


def default_scrubber() -> PiiScrubber:
    """The scrubber configured by `config/pii_blocklist.yaml` and `config/observations.yaml`."""
    names = settings.load(BLOCKLIST_FILE, PiiBlocklist).names
    use_presidio = observations_settings().presidio == "auto" and presidio_available()
    return _scrubber(tuple(names), use_presidio)


def find_pii(texts: Iterable[Any], kinds: Iterable[str] = ALL_KINDS,
             scrubber: PiiScrubber | None = None) -> list[PiiFinding]:
    """Every e-mail, phone number or blocklisted name in `texts` (non-strings are skipped)."""
    scrubber = scrubber or default_scrubber()
    kinds = tuple(kinds)
    findings: list[PiiFinding] = []
    for index, text in enumerate(texts):
        if isinstance(text, str) and text:
            findings += [PiiFinding(index, m.kind, m.text) for m in scrubber.find(text, kinds)]
    return findings
