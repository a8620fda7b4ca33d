"""Probing a media file before it becomes playable: it really decodes, within limits, and what size and length it has."""

from __future__ import annotations

import ctypes
import math
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import av.audio
import av.container
import av.stream
import av.video
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image

from signage.errors import MediaError
from signage.limits import MAX_TITLE_CHARS
from signage.media.images import FORMATS, decode_image
from signage.media.pdf import PDFIUM_LOCK
from signage.media.sniff import sniff_file

VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
PDF_TYPE = "application/pdf"
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/ogg", "audio/mp4"})

# The feed's few media types say how a board plays a file (a video, a sound); the container is read from the bytes
# and opened with its own demuxer, never FFmpeg's guess (which would follow a playlist to other files). So phone and
# camera files keep the types every board and the hub already know: a .MOV, .avi, .wmv, .mpg or .3gp is a
# "video/mp4" to play, a .wav, .aac, .amr, .flac, .wma or an Android .m4a an "audio/mp4"; an .opus is Ogg.
CONTAINERS: dict[str, frozenset[str]] = {
    "video/mp4": frozenset({"mov", "avi", "asf", "mpeg", "mpegts"}),
    "video/webm": frozenset({"matroska"}),
    "audio/mp4": frozenset({"mov", "wav", "aac", "amr", "flac", "asf"}),
    "audio/ogg": frozenset({"ogg"}),
    "audio/mpeg": frozenset({"mp3"}),
}
AV_HEAD_BYTES = 4096
ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")

MAX_VIDEO_LONG_SIDE = 7680  # 8K UHD, landscape or portrait
MAX_VIDEO_SHORT_SIDE = 4320
MIN_VIDEO_SECONDS = 0.1
MAX_VIDEO_SECONDS = 4 * 3600.0
VIDEO_IO_TIMEOUT_SECONDS = 10.0
# A first frame must come out of the first seconds of the stream: a keyframe is never further in.
FIRST_FRAME_WITHIN_SECONDS = 2.0
FIRST_FRAME_MAX_PACKETS = 1000  # for streams whose packets carry no timestamps
VIDEO_DECODE_BUDGET_SECONDS = 10.0
MIN_AUDIO_SECONDS = 0.5
MAX_AUDIO_SECONDS = 4 * 3600.0

MAX_PDF_PAGES = 500
MAX_PDF_PAGE_POINTS = 200 * 72  # 200 inches, the largest page size PDF allows (at UserUnit 1)
PDF_PROBE_BOX_PIXELS = 200  # page 1 is rendered to fit a 200x200 box: enough to prove it draws
PDF_RENDER_BUDGET_SECONDS = 5.0


@dataclass(frozen=True)
class Probe:
    """What a probe learnt of a file that decodes."""

    media_type: str  # e.g. "image/jpeg", "video/mp4", "application/pdf"
    width: int | None  # pixels of an image or a video; None for a PDF (its pages may differ)
    height: int | None
    seconds: float | None  # video or audio duration
    pages: int | None  # PDF page count
    title: str | None = None  # a video's or a recording's own title tag


def probe(path: Path, media_type: str) -> Probe:
    """Decode enough of `path`, declared as `media_type`, to know it plays; raise MediaError if it will not."""
    if media_type in FORMATS:
        return _probe_image(path, media_type)
    if media_type in VIDEO_TYPES:
        return _probe_video(path, media_type)
    if media_type == PDF_TYPE:
        return _probe_pdf(path)
    if media_type in AUDIO_TYPES:
        return _probe_audio(path, media_type)
    raise MediaError(f"{path}: unsupported type {media_type!r} (expected an image, an MP4 or WebM video, a PDF, or MP3, OGG or M4A audio)")


def av_container(head: bytes) -> str | None:
    """The FFmpeg demuxer for a video or sound file's leading bytes (an ID3 tag already skipped), or None."""
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"  # MP4, QuickTime, 3GP, M4A: one box format, whatever the brand
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"WAVE"):
        return "avi" if head[8:12] == b"AVI " else "wav"
    if head.startswith(ASF_GUID):
        return "asf"  # .wmv and .wma
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"  # MPEG program stream: .mpg, .vob
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"  # a camcorder's .mts
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"#!AMR\n"):
        return "amr"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS: sync, layer 0
    if len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0b11:
        return "mp3"
    return None


def read_av_container(path: Path) -> str | None:
    """`av_container` of a file; an ID3 tag in front (MP3, sometimes AAC or FLAC) is stepped over."""
    try:
        with path.open("rb") as handle:
            head = handle.read(AV_HEAD_BYTES)
            if head.startswith(b"ID3") and len(head) >= 10:
                size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
                handle.seek(10 + size)
                after = handle.read(AV_HEAD_BYTES)
                found = av_container(after)
                return found if found in ("aac", "flac") else "mp3"
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    return av_container(head)


def judge(path: Path) -> Probe:
    """What a video or sound file is, by its bytes and its streams, whatever its name: probed as that.

    A file with a picture stream (cover art aside) is a video; one with sound only, an Android recording in an
    MP4 box among them, is audio.
    """
    container_name = read_av_container(path)
    if container_name is None:
        raise MediaError(f"{path}: not a video or sound file the board knows")
    with _opened(path, container_name, "file") as container:
        has_picture = bool(_picture_streams(container))
    if has_picture:
        media_type = "video/webm" if container_name == "matroska" else "video/mp4"
        return _probe_video(path, media_type)
    media_type = {"ogg": "audio/ogg", "mp3": "audio/mpeg"}.get(container_name, "audio/mp4")
    return _probe_audio(path, media_type)


def _picture_streams(container: av.container.InputContainer) -> list[av.video.VideoStream]:
    # Cover art in an audio file is a one-frame "video" stream marked as an attached picture.
    return [stream for stream in container.streams.video if not stream.disposition & av.stream.Disposition.attached_pic]


def _opened(path: Path, container_name: str, noun: str) -> av.container.InputContainer:
    try:
        return av.open(str(path), format=container_name, metadata_errors="ignore", timeout=VIDEO_IO_TIMEOUT_SECONDS)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable {noun} ({exc.strerror})") from None


def title_tag(container: av.container.InputContainer) -> str | None:
    """The file's own title (a phone's or an editor's `title` tag), cleaned to one line; None when it has none."""
    for metadata in [container.metadata, *(stream.metadata for stream in container.streams)]:
        raw = metadata.get("title") or metadata.get("TITLE") or ""
        shown = " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in raw).split())
        if shown:
            return unicodedata.normalize("NFC", shown)[:MAX_TITLE_CHARS]
    return None


def _check_declared(path: Path, media_type: str) -> None:
    """Refuse a file whose leading bytes say it is something else than declared (FFmpeg and PDFium would guess on)."""
    try:
        found = sniff_file(path)
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror}") from None
    if found != media_type:
        raise MediaError(f"{path}: content is {found or 'of no known type'}, not {media_type}")


def _probe_image(path: Path, media_type: str) -> Probe:
    # A full decode (small, in draft mode for JPEG) is what proves the file is whole; it also applies
    # the pixel limit and refuses a file whose format is not the declared one.
    decode_image(path, (64, 64), media_type)
    try:
        with Image.open(path, formats=[FORMATS[media_type]]) as image:
            width, height = image.size  # from the header: the stored size, before any EXIF rotation
    except (OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot read image size: {exc}") from None
    return Probe(media_type, width, height, None, None)


def _probe_video(path: Path, media_type: str) -> Probe:
    return _probe_av(path, media_type, ("video", "video"), _inspect_video)


def _probe_av(
    path: Path, media_type: str, nouns: tuple[str, str], inspect: Callable[[Path, str, av.container.InputContainer], Probe]
) -> Probe:
    """Open a video or audio file with PyAV within a time-out, by the demuxer its bytes name, inspect it, and always close it."""
    container_name = read_av_container(path)
    if container_name not in CONTAINERS[media_type]:
        named = next((declared for declared, names in CONTAINERS.items() if container_name in names), None)
        raise MediaError(f"{path}: content is {named or 'of no known type'}, not {media_type}")
    container = _opened(path, container_name, nouns[0])
    try:
        return inspect(path, media_type, container)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read {nouns[1]} ({exc.strerror})") from None
    finally:
        container.close()


def _inspect_video(path: Path, media_type: str, container: av.container.InputContainer) -> Probe:
    pictures = _picture_streams(container)
    if not pictures:
        raise MediaError(f"{path}: no decodable video stream")
    stream = pictures[0]
    if stream.codec_context is None:
        raise MediaError(f"{path}: no decodable video stream (no decoder for {_codec_tag(stream)})")
    seconds = _duration_seconds(container, stream)
    if seconds is None:
        raise MediaError(f"{path}: video duration unknown")
    if not MIN_VIDEO_SECONDS <= seconds <= MAX_VIDEO_SECONDS:
        raise MediaError(f"{path}: video of {seconds:.2f} s is outside {MIN_VIDEO_SECONDS} s to {MAX_VIDEO_SECONDS / 3600:g} h")
    # Checked before decoding, so a huge frame is refused without being allocated.
    _check_video_size(path, stream.codec_context.width, stream.codec_context.height)
    frame, error = _first_frame(container, stream)
    if frame is None:
        reason = f" ({stream.codec_context.name}: {error.strerror})" if error else ""
        raise MediaError(f"{path}: no decodable video stream{reason}")
    width, height = frame.width, frame.height
    _check_video_size(path, width, height)
    from signage.media.video import upright_turn  # pygame loads only where video plays

    if upright_turn(frame, stream) in (90, 270):
        width, height = height, width  # a portrait phone video is as tall as it is shown
    return Probe(media_type, width, height, seconds, None, title_tag(container))


def _codec_tag(stream: av.stream.Stream) -> str:
    try:
        return f"codec {stream.codec_tag!r}"  # the fourcc an old camera wrote
    except (AttributeError, ValueError):
        return "an unknown codec"


def _duration_seconds(container: av.container.InputContainer, stream: av.video.VideoStream | av.audio.AudioStream) -> float | None:
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _check_video_size(path: Path, width: int, height: int) -> None:
    if max(width, height) > MAX_VIDEO_LONG_SIDE or min(width, height) > MAX_VIDEO_SHORT_SIDE:
        raise MediaError(f"{path}: video of {width}x{height} pixels is over the {MAX_VIDEO_LONG_SIDE}x{MAX_VIDEO_SHORT_SIDE} limit")


def _first_frame(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> tuple[av.VideoFrame | None, av.FFmpegError | None]:
    """The first frame decoded from the stream's first seconds, or None and the last decoder error."""
    deadline = time.monotonic() + VIDEO_DECODE_BUDGET_SECONDS
    first_seconds: float | None = None
    error: av.FFmpegError | None = None
    for count, packet in enumerate(container.demux(stream)):
        if packet.pts is not None and packet.time_base:
            at = float(packet.pts * packet.time_base)
            first_seconds = at if first_seconds is None else first_seconds
            if at - first_seconds > FIRST_FRAME_WITHIN_SECONDS:
                break
        try:
            frames = packet.decode()  # the empty packet demux ends with flushes the decoder
        except av.FFmpegError as exc:
            # A damaged packet may be followed by a good keyframe; only none at all is a refusal.
            error = exc
            frames = []
        if frames:
            return frames[0], None
        if count >= FIRST_FRAME_MAX_PACKETS or time.monotonic() > deadline:
            break
    return None, error


def _probe_audio(path: Path, media_type: str) -> Probe:
    return _probe_av(path, media_type, ("audio file", "audio"), _inspect_audio)


def _inspect_audio(path: Path, media_type: str, container: av.container.InputContainer) -> Probe:
    if not container.streams.audio:
        raise MediaError(f"{path}: no decodable audio stream")
    if _picture_streams(container):
        raise MediaError(f"{path}: it has a picture: a video, not a sound file")
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        raise MediaError(f"{path}: no decodable audio stream (no decoder for {_codec_tag(stream)})")
    seconds = _duration_seconds(container, stream)
    if seconds is None:
        raise MediaError(f"{path}: audio duration unknown")
    if not MIN_AUDIO_SECONDS <= seconds <= MAX_AUDIO_SECONDS:
        raise MediaError(f"{path}: audio of {seconds:.2f} s is outside {MIN_AUDIO_SECONDS} s to {MAX_AUDIO_SECONDS / 3600:g} h")
    decoded, error = _first_audio_frame(container, stream)
    if not decoded:
        reason = f" ({stream.codec_context.name}: {error.strerror})" if error else ""
        raise MediaError(f"{path}: no decodable audio stream{reason}")
    return Probe(media_type, None, None, seconds, None, title_tag(container))


def _first_audio_frame(container: av.container.InputContainer, stream: av.audio.AudioStream) -> tuple[bool, av.FFmpegError | None]:
    """Whether a frame decodes from the stream's first seconds, and the last decoder error if none did."""
    deadline = time.monotonic() + VIDEO_DECODE_BUDGET_SECONDS
    error: av.FFmpegError | None = None
    for count, packet in enumerate(container.demux(stream)):
        try:
            if packet.decode():  # the empty packet demux ends with flushes the decoder
                return True, None
        except av.FFmpegError as exc:
            error = exc  # MP3 and AAC decoders resync at the next frame: only none at all is a refusal
        if count >= FIRST_FRAME_MAX_PACKETS or time.monotonic() > deadline:
            break
    return False, error


def _probe_pdf(path: Path) -> Probe:
    _check_declared(path, PDF_TYPE)
    with PDFIUM_LOCK:
        return _probe_pdf_locked(path)


def _probe_pdf_locked(path: Path) -> Probe:
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_raw.FPDF_ERR_PASSWORD:
            raise MediaError(f"{path}: PDF is protected by a password") from None
        raise MediaError(f"{path}: not a readable PDF ({exc})") from None
    except FileNotFoundError:
        raise MediaError(f"{path}: file not found") from None
    try:
        pages = len(document)
        if not 1 <= pages <= MAX_PDF_PAGES:
            raise MediaError(f"{path}: PDF of {pages} pages (1 to {MAX_PDF_PAGES} allowed)")
        for index in range(pages):
            _check_page_size(path, index + 1, *document.get_page_size(index))
        _render_first_page(path, document)
    except pdfium.PdfiumError as exc:
        raise MediaError(f"{path}: cannot read PDF ({exc})") from None
    finally:
        document.close()
    return Probe(PDF_TYPE, None, None, None, pages)


def _check_page_size(path: Path, number: int, width: float, height: float) -> None:
    if width <= 0 or height <= 0:
        raise MediaError(f"{path}: page {number} has no area ({width:g}x{height:g} pt)")
    if width > MAX_PDF_PAGE_POINTS or height > MAX_PDF_PAGE_POINTS:
        raise MediaError(f"{path}: page {number} of {width:.0f}x{height:.0f} pt is over the {MAX_PDF_PAGE_POINTS} pt (200 in) limit")


def _render_first_page(path: Path, document: pdfium.PdfDocument, budget_seconds: float = PDF_RENDER_BUDGET_SECONDS) -> None:
    """Render page 1 small, giving up after the time budget.

    PDFium's progressive renderer asks a callback whether to pause between drawing steps, so a
    page of pathological content is abandoned instead of holding the sync for minutes.
    """
    page = document[0]
    try:
        page_width, page_height = page.get_size()
        scale = min(PDF_PROBE_BOX_PIXELS / page_width, PDF_PROBE_BOX_PIXELS / page_height)
        width, height = max(1, math.ceil(page_width * scale)), max(1, math.ceil(page_height * scale))
        bitmap = pdfium.PdfBitmap.new_native(width, height, pdfium_raw.FPDFBitmap_BGR)
        try:
            bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
            status = _render_progressively(page, bitmap, width, height, time.monotonic() + budget_seconds)
        finally:
            bitmap.close()
    finally:
        page.close()
    if status == pdfium_raw.FPDF_RENDER_TOBECONTINUED:
        raise MediaError(f"{path}: page 1 did not render within {budget_seconds:g} s")
    if status != pdfium_raw.FPDF_RENDER_DONE:
        raise MediaError(f"{path}: page 1 does not render")


def _render_progressively(page: pdfium.PdfPage, bitmap: pdfium.PdfBitmap, width: int, height: int, deadline: float) -> int:
    """PDFium's render status: done, failed, or still to be continued when the deadline passed."""
    pause = pdfium_raw.IFSDK_PAUSE(version=1)
    # Held in a local for as long as PDFium may call it: ctypes does not keep callbacks alive.
    need_to_pause = type(pause.NeedToPauseNow)(lambda _pause: time.monotonic() > deadline)
    pause.NeedToPauseNow = need_to_pause
    status = pdfium_raw.FPDF_RenderPageBitmap_Start(bitmap, page, 0, 0, width, height, 0, 0, ctypes.byref(pause))
    try:
        while status == pdfium_raw.FPDF_RENDER_TOBECONTINUED and time.monotonic() <= deadline:
            status = pdfium_raw.FPDF_RenderPage_Continue(page, ctypes.byref(pause))
    finally:
        pdfium_raw.FPDF_RenderPage_Close(page)
    return status
