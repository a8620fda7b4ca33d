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
    normalized = unicodedata.normalize("NFC", text)
    # Every format character is one str.isprintable() refuses: text it accepts (line breaks and tabs aside) has none,
    # and is settled at C speed. A hub publishing 5,000 bulletins spent most of its time in the loop below.
    if normalized.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return (normalized.replace("\r\n", "\n").replace("\r", "\n") if "\r" in normalized else normalized), 0
    removed = 0
    kept: list[str] = []
    for ch in normalized:
        if unicodedata.category(ch) == "Cf" and ch not in _KEEP_FORMAT:
            removed += 1
            continue
        kept.append(ch)
    # Normalise line endings: Windows files arrive with CRLF.
    cleaned = "".join(kept).replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", cleaned), removed


# Shown escaped wherever a name chosen by someone else reaches a terminal or a log: C0 and C1 controls
# and DEL (escape sequences retitle, clear or recolour a terminal, and C1 CSI works as ESC [ in some),
# line and paragraph separators (a forged log line), and the bidi controls (a name reads backwards).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SEPARATORS = frozenset("\u2028\u2029\x85")


def printable(text: str) -> str:
    """`text` safe to print or log: control, separator and bidi characters as `\\x1b` / `\\u202e`.

    Bytes of a file name that were not UTF-8 (decoded by Python as lone surrogates) show as `\\xf4`,
    so the result always encodes as UTF-8. Everything else, Vietnamese included, is kept as it is.
    """
    shown: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that was not UTF-8
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            shown.append(f"\\x{code:02x}")
        elif ch in _BIDI_CONTROLS or ch in _SEPARATORS or 0xD800 <= code <= 0xDFFF:
            shown.append(f"\\u{code:04x}")
        else:
            shown.append(ch)
    return "".join(shown)
