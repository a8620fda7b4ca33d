"""What a file really is, from its first bytes (never from its name alone)."""

from __future__ import annotations

from pathlib import Path

EXTENSION_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".m4a": "audio/mp4",
}


MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"mmp4", b"MSNV"})
AUDIO_MP4_BRANDS = frozenset({b"M4A ", b"M4B "})  # iTunes audio and audiobook: MP4 holding sound only
SNIFF_BYTES = 64


def sniff(head: bytes) -> str | None:
    """The media type the leading bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return "video/mp4"  # not HEIC, AVIF, M4A or QuickTime, which share the box format
    if head[4:8] == b"ftyp" and head[8:12] in AUDIO_MP4_BRANDS:
        return "audio/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video/webm"  # Matroska whose DocType is webm
    if head.startswith(b"OggS"):
        return "audio/ogg"  # the probe then requires an audio stream (Ogg may carry Theora video)
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return "audio/mpeg"
    return None


HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def looks_like_image(head: bytes) -> bool:
    """Whether the leading bytes begin a picture the drop folder takes (JPEG, PNG, WebP, HEIF, GIF, BMP, TIFF).

    So a damaged photo is told apart from a file that was never a picture (a web page saved as .jpg).
    """
    if sniff(head) in ("image/jpeg", "image/png", "image/webp"):
        return True
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return True
    return head.startswith((b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*"))


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio frame header: 11-bit sync, and no reserved version, layer, bitrate or sample rate.

    The reserved values are checked because two bytes of sync alone match too much (ADTS AAC has layer 0).
    """
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and rate != 0b11


def sniff_file(path: Path) -> str | None:
    with path.open("rb") as handle:
        return sniff(handle.read(SNIFF_BYTES))
