"""A bulletin form with its upload (multipart/form-data), streamed to a temporary file under a limit, hashed as written.

Starlette's own form reader spools files to /tmp with no limit on a file's size, and needs python-multipart; this one
reads the body as it arrives, keeps text fields small, refuses a file part that comes before the form's CSRF field
or whose name is not a kind the boards play, and stops the moment a file passes its limit (the part written so far
deleted). `MultipartReader` is the pure part: bytes in, events out.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anyio import to_thread
from starlette.requests import ClientDisconnect, Request

from signage.errors import MediaError
from signage.media.docxfile import read_docx
from signage.media.probe import probe
from signage.media.sniff import EXTENSION_TYPES
from signage.media.textfile import read_notice
from signage.model import MEDIA_TYPES
from signage.playlist import describe_media

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8 * 1024  # one part's headers
MAX_FIELD_BYTES = 64 * 1024  # one text field (a bulletin's body is at most 20,000 characters: 80 kB of UTF-8 at worst)
MAX_FIELDS_BYTES = 256 * 1024  # all text fields together
MAX_PARTS = 2000  # a form may tick many boards
MAX_PREAMBLE_BYTES = 1024
BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{1,70}")  # RFC 2046's bchars
PARAM = re.compile(r';\s*([A-Za-z0-9*_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class UploadRefused(Exception):
    """The form or its file is not taken; `what` is one Vietnamese line naming the problem (and the file)."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status, self.what = status, what
        self.fields: dict[str, list[str]] = {}  # the text fields read before the refusal, to fill the form again


@dataclass(frozen=True, slots=True)
class Part:
    """A part's headers: its field name and, for a file, the name the browser gave it."""

    name: str
    filename: str | None
    content_type: str


@dataclass(frozen=True, slots=True)
class PartData:
    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    pass


Event = Part | PartData | PartEnd


class MultipartReader:
    """An incremental multipart/form-data parser: `feed(chunk)` yields Part, PartData…, PartEnd for each part;
    `close()` raises UploadRefused unless the closing boundary was seen. Holds at most a delimiter's worth of data."""

    def __init__(self, boundary: str) -> None:
        # The body's first delimiter has no CRLF before it; adding one lets every delimiter be found alike.
        self._delimiter = b"\r\n--" + boundary.encode("ascii")
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"

    @property
    def done(self) -> bool:
        return self._state == "end"

    def feed(self, chunk: bytes) -> Iterator[Event]:
        if self._state == "end":
            return  # an epilogue is ignored
        self._buffer += chunk
        while True:
            if self._state == "preamble":
                at = self._buffer.find(self._delimiter)
                if at < 0:
                    if len(self._buffer) > MAX_PREAMBLE_BYTES:
                        raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
                    return
                del self._buffer[: at + len(self._delimiter)]
                self._state = "after_delimiter"
            elif self._state == "after_delimiter":
                if len(self._buffer) < 2:
                    return
                if self._buffer[:2] == b"--":
                    self._state = "end"
                    self._buffer.clear()
                    return
                if self._buffer[:2] != b"\r\n":
                    raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
                del self._buffer[:2]
                self._state = "headers"
            elif self._state == "headers":
                if self._buffer.startswith(b"\r\n"):
                    end, raw = 2, b""
                else:
                    at = self._buffer.find(b"\r\n\r\n")
                    if at < 0:
                        if len(self._buffer) > MAX_HEADER_BYTES:
                            raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
                        return
                    end, raw = at + 4, bytes(self._buffer[:at])
                if end > MAX_HEADER_BYTES:
                    raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
                del self._buffer[:end]
                self._state = "body"
                yield parse_part_headers(raw)
            else:  # body
                at = self._buffer.find(self._delimiter)
                if at < 0:
                    keep = len(self._delimiter) - 1  # a delimiter may be cut between two chunks
                    if len(self._buffer) > keep:
                        data = bytes(self._buffer[: len(self._buffer) - keep])
                        del self._buffer[: len(self._buffer) - keep]
                        yield PartData(data)
                    return
                if at:
                    yield PartData(bytes(self._buffer[:at]))
                del self._buffer[: at + len(self._delimiter)]
                self._state = "after_delimiter"
                yield PartEnd()

    def close(self) -> None:
        if self._state != "end":
            raise UploadRefused(400, "Biểu mẫu chưa gửi hết.")


def parse_part_headers(raw: bytes) -> Part:
    """A part's Content-Disposition (its field name and file name) and Content-Type. Browsers send the file name
    as raw UTF-8 with `"` as %22; anything undecodable is replaced, never trusted as a path."""
    disposition, content_type = "", ""
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-disposition":
            disposition = value.strip()
        elif name.strip().lower() == "content-type":
            content_type = value.strip().lower()
    if not disposition.lower().startswith("form-data"):
        raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
    params: dict[str, str] = {}
    for key, value in PARAM.findall(disposition):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.setdefault(key.lower(), value.strip())
    if "name" not in params:
        raise UploadRefused(400, "Biểu mẫu gửi lên không đúng dạng.")
    filename = params.get("filename")
    return Part(params["name"], None if filename is None else shown_name(filename), content_type)


def shown_name(filename: str) -> str:
    """The last component of a file name (old browsers send a whole Windows path), without controls, at most 120
    characters: for messages and the officer's list only, never a path on disk."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable())
    return cleaned[:120]


@dataclass
class Upload:
    """A file received: written under a random name in the incoming folder, its SHA-256 and size."""

    field: str
    filename: str
    path: Path
    sha256: str
    bytes: int

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class MultipartForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)

    def discard(self) -> None:
        for upload in self.uploads:
            upload.discard()


async def read_multipart(
    request: Request,
    *,
    incoming: Path,
    max_file_bytes: int,
    accept_name: Callable[[str], str | None],
    check_token: Callable[[str], None],
    token_field: str = "csrf",
) -> MultipartForm:
    """Read a multipart form: text fields into `fields`, file parts streamed into `incoming` (made 0700 if missing).

    `accept_name(filename)` returns a refusal (Vietnamese) for a name the boards could not play, before any byte is
    written; `check_token(value)` is called when the `token_field` ends and raises to refuse the form; a file part
    before it is refused. On any refusal nothing is kept. A file part with an empty name (no file chosen) is skipped.
    """
    kind, _, params = request.headers.get("content-type", "").partition(";")
    boundary = next((value for key, value in _params(params) if key == "boundary"), "")
    if kind.strip().lower() != "multipart/form-data" or not BOUNDARY.fullmatch(boundary) or boundary.endswith(" "):
        raise UploadRefused(415, "Biểu mẫu gửi lên không đúng dạng.")
    declared = request.headers.get("content-length", "")
    limit = max_file_bytes + MAX_FIELDS_BYTES + MAX_PARTS * 200
    if declared and (not declared.isascii() or not declared.isdigit() or int(declared) > limit):
        raise UploadRefused(413, f"Tệp tải lên quá lớn: tối đa {_megabytes(max_file_bytes)}.")
    reader = MultipartReader(boundary)
    form = MultipartForm()
    state = _PartState()
    try:
        async for chunk in request.stream():
            for event in reader.feed(chunk):
                await state.take(event, form, incoming, max_file_bytes, accept_name, check_token, token_field)
        reader.close()
        if not state.token_checked:
            check_token("")
    except ClientDisconnect:
        state.abandon()
        form.discard()
        raise UploadRefused(400, "Biểu mẫu chưa gửi hết.") from None
    except UploadRefused as exc:
        state.abandon()
        form.discard()
        exc.fields = form.fields
        raise
    except BaseException:
        state.abandon()
        form.discard()
        raise
    return form


def _params(text: str) -> Iterator[tuple[str, str]]:
    for piece in text.split(";"):
        key, _, value = piece.partition("=")
        yield key.strip().lower(), value.strip().strip('"')


def _megabytes(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB"


class _PartState:
    """The part being read: a text field's bytes, or a file's handle and hash."""

    def __init__(self) -> None:
        self.part: Part | None = None
        self.text = bytearray()
        self.text_total = 0
        self.parts = 0
        self.token_checked = False
        self.handle: IO[bytes] | None = None
        self.path: Path | None = None
        self.digest = hashlib.sha256()
        self.size = 0
        self.skip = False

    async def take(
        self,
        event: Event,
        form: MultipartForm,
        incoming: Path,
        max_file_bytes: int,
        accept_name: Callable[[str], str | None],
        check_token: Callable[[str], None],
        token_field: str,
    ) -> None:
        if isinstance(event, Part):
            self.parts += 1
            if self.parts > MAX_PARTS:
                raise UploadRefused(413, "Biểu mẫu có quá nhiều trường.")
            self.part, self.text, self.skip = event, bytearray(), False
            if event.filename is not None:
                if not event.filename:
                    self.skip = True  # the file input left empty
                    return
                if not self.token_checked:
                    raise UploadRefused(403, "Biểu mẫu đã hết hạn (phiên đăng nhập đã đổi). Hãy mở lại trang rồi thử lại.")
                if form.uploads:
                    raise UploadRefused(400, "Mỗi bản tin chỉ nhận một tệp.")
                refusal = accept_name(event.filename)
                if refusal:
                    raise UploadRefused(415, refusal)
                await self._open(incoming, event.filename)
            return
        part = self.part
        if part is None or self.skip:
            return
        if isinstance(event, PartData):
            if part.filename is None:
                self.text += event.data
                self.text_total += len(event.data)
                if len(self.text) > MAX_FIELD_BYTES or self.text_total > MAX_FIELDS_BYTES:
                    raise UploadRefused(413, "Biểu mẫu quá lớn.")
                return
            self.size += len(event.data)
            if self.size > max_file_bytes:
                raise UploadRefused(413, f"Tệp “{part.filename}” lớn hơn giới hạn {_megabytes(max_file_bytes)}; không lưu tệp này.")
            self.digest.update(event.data)
            assert self.handle is not None
            await to_thread.run_sync(self.handle.write, event.data)
            return
        # The part ended.
        if part.filename is None:
            value = self.text.decode("utf-8", errors="replace")
            form.fields.setdefault(part.name, []).append(value)
            if part.name == token_field and not self.token_checked:
                check_token(value)
                self.token_checked = True
        else:
            assert self.handle is not None and self.path is not None
            handle, self.handle = self.handle, None
            await to_thread.run_sync(_finish, handle)
            if self.size == 0:
                self.path.unlink()
                raise UploadRefused(400, f"Tệp “{part.filename}” trống.")
            form.uploads.append(Upload(part.name, part.filename, self.path, self.digest.hexdigest(), self.size))
            self.path = None
        self.part = None

    async def _open(self, incoming: Path, filename: str) -> None:
        suffix = Path(filename).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""

        def open_file() -> tuple[IO[bytes], Path]:
            incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
            # The uploaded name's suffix is kept (the board's own describe_media compares it with the bytes).
            path = incoming / f"upload-{secrets.token_hex(12)}{suffix}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            return os.fdopen(fd, "wb"), path

        self.handle, self.path = await to_thread.run_sync(open_file)
        self.digest, self.size = hashlib.sha256(), 0

    def abandon(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path = None


def _finish(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


# --- what an upload holds -----------------------------------------------------------------------------

TEXT_SUFFIXES = {".txt": "văn bản .txt", ".docx": "Word .docx"}
KIND_WORDS = {"image": "ảnh", "video": "video", "pdf": "PDF", "audio": "âm thanh", "text": "văn bản"}


def name_problem(filename: str) -> str | None:
    """Why a file of this name cannot be a bulletin (Vietnamese), or None: the boards' media types, .txt and .docx."""
    suffix = Path(filename).suffix.lower()
    if suffix in EXTENSION_TYPES or suffix in TEXT_SUFFIXES:
        return None
    return (
        f"Tệp “{filename}” không phải loại bảng tin phát được "
        "(ảnh JPEG, PNG, WebP; video MP4, WebM; PDF; âm thanh MP3, OGG, M4A; văn bản .txt hoặc Word .docx)."
    )


@dataclass(frozen=True, slots=True)
class Received:
    """What an upload turned out to be: media stored as media/<sha256>, or a text notice's title and body."""

    filename: str
    sha256: str | None = None
    type: str | None = None
    bytes: int = 0
    kind: str | None = None  # the Kind value of media
    title: str = ""
    body: str = ""


def take_upload(upload: Upload, media_dir: Path) -> Received:
    """Check an upload with the board's own readers and probes; media moves to media_dir/<sha256>. Blocking (a
    thread). Raises UploadRefused naming the file (the English detail is logged by the caller); the temporary file
    is always gone afterwards."""
    suffix = upload.path.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            title, body = (read_docx if suffix == ".docx" else read_notice)(upload.path)
            return Received(upload.filename, title=title, body=body)
        described = describe_media(upload.path)  # the bytes sniffed, and held against the name's suffix
        probe(upload.path, described["type"])  # it decodes, within the board's limits
        if described["sha256"] != upload.sha256:
            raise MediaError(f"{upload.path}: changed while it was checked")
        media_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = media_dir / upload.sha256
        if target.exists():
            upload.discard()
        else:
            os.replace(upload.path, target)
            _fsync_dir(media_dir)
        kind = MEDIA_TYPES[described["type"]].value
        return Received(upload.filename, upload.sha256, described["type"], int(described["bytes"]), kind)
    except MediaError as exc:
        log.warning("upload %r refused: %s", upload.filename, exc)
        raise UploadRefused(415, _refusal(upload.filename, suffix, str(exc))) from None
    finally:
        upload.discard()


def _refusal(filename: str, suffix: str, detail: str) -> str:
    if suffix in TEXT_SUFFIXES:
        if "too long" in detail or "over" in detail:
            return f"Tệp “{filename}” quá dài cho một bản tin."
        return f"Tệp “{filename}” không đọc được như {TEXT_SUFFIXES[suffix]} (tệp hỏng hoặc trống)."
    if "named" in detail and "but the bytes are" in detail:
        return f"Tệp “{filename}” mang đuôi {suffix} nhưng nội dung không phải loại đó; không lưu tệp này."
    if "not a supported media file" in detail:
        return f"Tệp “{filename}” không phải ảnh, video, PDF hay âm thanh mà bảng tin phát được; không lưu tệp này."
    return f"Tệp “{filename}” không mở được trên bảng tin (tệp hỏng hoặc vượt giới hạn); không lưu tệp này."


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
