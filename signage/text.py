"""Text hygiene: NFC normalisation and removal of invisible format characters."""

from __future__ import annotations

import unicodedata

# Kept although they are format characters (category Cf): joiners shape some scripts,
# the soft hyphen is a legitimate break hint. Everything else in Cf is stripped:
# bidi embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069), zero-width spaces,
# the BOM, tags and the like can hide or reorder what a reader sees.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d", "\u00ad"})


def clean_text(text: str) -> tuple[str, int]:
    """Return `text` NFC-normalised with invisible format characters removed, and how many were."""
    removed = 0
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        if unicodedata.category(ch) == "Cf" and ch not in _KEEP_FORMAT:
            removed += 1
            continue
        kept.append(ch)
    # Normalise line endings: Windows files arrive with CRLF.
    cleaned = "".join(kept).replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", cleaned), removed
