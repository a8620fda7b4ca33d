"""Office packages (ZIP): checked against limits before any library reads them (Word now, the office converters to come).

The checks run on the bytes already read, which are the bytes the library then opens: nothing can
change between the check and the read. A package is refused, in one line naming the file, when:
its zip directory is larger than its member count allows (read from the end record first, so a
directory of 300,000 entries is never parsed); it has too many members; two members share a name
(exactly, or but for case, which Office treats as one part); a name is absolute, climbs with `..`,
uses backslashes, empty segments or control characters; one part or all of them inflate past
their caps. The sizes in the directory can be trusted: `zipfile` stops inflating a member at its
declared size and then fails the CRC, so no member inflates past what it declares.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass

from signage.errors import MediaError, OverLimit

MIB = 1024 * 1024
_END_RECORD = struct.Struct("<4s4H2LH")  # the zip's end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_MAX_COMMENT = 0xFFFF
_DIRECTORY_ENTRY_BYTES = 46  # the fixed part of one central directory entry; its name, extra and comment follow
_MAX_NAME_CHARS = 260
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class PackageLimits:
    """What one kind of office package may hold; the numbers are explained where each kind is defined."""

    kind: str  # named in errors: "Word document"
    main_part: str  # the part that must be present
    file_bytes: int  # the package itself, on disk
    members: int
    part_bytes: int  # any one member inflated, pictures aside: the XML a library parses into a tree
    parts_bytes: int  # every member but pictures, inflated, together
    unpacked_bytes: int  # every member, pictures included, inflated, together
    media_prefix: str  # members under this folder are pictures: held only to `unpacked_bytes`

    @property
    def directory_bytes(self) -> int:
        """The largest central directory `members` entries with sane names need."""
        return self.members * (_DIRECTORY_ENTRY_BYTES + _MAX_NAME_CHARS * 4 + 64)


# A Word notice is a handful of parts (document, styles, settings, fonts, theme, numbering, headers,
# footers, the odd picture): 20 to 60 members. Its document.xml runs to a few hundred KB even for a
# long notice in Word's verbose XML (a table of 400 households is about 2 MB); 4 MiB leaves room and
# keeps the parsed tree, some 25 bytes of memory per byte of XML at worst, near 100 MB. The other
# XML parts are smaller still. Pictures are stored already compressed, so they inflate to about
# their size in the file.
WORD_LIMITS = PackageLimits(
    kind="Word document",
    main_part="word/document.xml",
    file_bytes=20 * MIB,
    members=256,
    part_bytes=4 * MIB,
    parts_bytes=8 * MIB,
    unpacked_bytes=32 * MIB,
    media_prefix="word/media/",
)


def member_name_problem(name: str) -> str | None:
    """Why a member name has no place in an office package, or None: parts are relative paths of plain segments."""
    if not name or len(name) > _MAX_NAME_CHARS:
        return "empty or over-long"
    if _CONTROL.search(name):
        return "a control character"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "an absolute path"
    if "\\" in name:
        return "a backslash"
    segments = name.removesuffix("/").split("/")  # a trailing slash is a folder entry, which zip tools add
    if any(segment in ("", ".", "..") for segment in segments):
        return "an empty, '.' or '..' segment"
    return None


def _directory_size(raw: bytes, origin: str, limits: PackageLimits) -> None:
    """Read the end record and refuse a directory too large for `limits.members` before `zipfile` parses it."""
    tail = raw[-(_END_RECORD.size + _MAX_COMMENT) :]
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise MediaError(f"{origin}: not a {limits.kind} (not a zip archive: no end of central directory)")
    _, _, _, _, entries, directory_bytes, _, _ = _END_RECORD.unpack_from(tail, at)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        raise MediaError(
            f"{origin}: not a {limits.kind} (a ZIP64 archive, which a file of at most {limits.file_bytes // MIB} MB never needs)"
        )
    if entries > limits.members or directory_bytes > limits.directory_bytes:
        raise OverLimit(
            f"{origin}: {limits.kind} of {entries} members ({directory_bytes} bytes of directory); at most {limits.members} members"
        )


def check_package(raw: bytes, origin: str, limits: PackageLimits) -> zipfile.ZipFile:
    """The package in `raw`, opened, once every limit holds; `MediaError` naming `origin` and the problem otherwise."""
    if len(raw) > limits.file_bytes:
        raise OverLimit(f"{origin}: {limits.kind} of {len(raw)} bytes is over the {limits.file_bytes // MIB} MB limit")
    _directory_size(raw, origin, limits)
    try:
        package = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise MediaError(f"{origin}: not a {limits.kind} (not a zip archive: {exc})") from None
    try:
        _check_members(package.infolist(), origin, limits)
    except MediaError:
        package.close()
        raise
    return package


def _check_members(members: list[zipfile.ZipInfo], origin: str, limits: PackageLimits) -> None:
    if len(members) > limits.members:
        raise OverLimit(f"{origin}: {limits.kind} of {len(members)} members; at most {limits.members} members")
    seen: set[str] = set()
    parts = unpacked = 0
    for member in members:
        name = member.filename
        problem = member_name_problem(name)
        if problem is not None:
            raise MediaError(f"{origin}: member name {name!r} has {problem}")
        folded = name.casefold()
        if folded in seen:
            raise MediaError(f"{origin}: member name {name!r} is in the archive twice (names differing in case count as one)")
        seen.add(folded)
        if not name.startswith(limits.media_prefix):
            if member.file_size > limits.part_bytes:
                raise OverLimit(f"{origin}: {name} unpacks to {member.file_size} bytes, over the {limits.part_bytes // MIB} MB limit")
            parts += member.file_size
        unpacked += member.file_size
    if parts > limits.parts_bytes:
        raise OverLimit(f"{origin}: its parts unpack to {parts} bytes, over the {limits.parts_bytes // MIB} MB limit")
    if unpacked > limits.unpacked_bytes:
        raise OverLimit(f"{origin}: archive unpacks to {unpacked} bytes, over the {limits.unpacked_bytes // MIB} MB limit")
    if limits.main_part.casefold() not in seen:
        raise MediaError(f"{origin}: not a {limits.kind} (no {limits.main_part} in the archive)")
