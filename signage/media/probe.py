"""Probing a media file before it becomes playable: it really decodes, within limits, and what size and length it has."""

from __future__ import annotations

import ctypes
import math
import time
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
from signage.media.images import FORMATS, decode_image
from signage.media.pdf import PDFIUM_LOCK
from signage.media.sniff import sniff_file

VIDEO_TYPES = frozenset({"video/mp4", "video/webm"})
PDF_TYPE = "application/pdf"
AUDIO_TYPES = frozenset({"audio/mpeg", "audio/ogg", "audio/mp4"})

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
    """Open a video or audio file with PyAV within a time-out, inspect it, and always close it."""
    _check_declared(path, media_type)
    try:
        container = av.open(str(path), metadata_errors="ignore", timeout=VIDEO_IO_TIMEOUT_SECONDS)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable {nouns[0]} ({exc.strerror})") from None
    try:
        return inspect(path, media_type, container)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: cannot read {nouns[1]} ({exc.strerror})") from None
    finally:
        container.close()


def _inspect_video(path: Path, media_type: str, container: av.container.InputContainer) -> Probe:
    streams = [
        stream
        for stream in container.streams.video
        # Cover art in an audio file is a one-frame "video" stream marked as an attached picture.
        if stream.codec_context is not None and not stream.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        raise MediaError(f"{path}: no decodable video stream")
    stream = streams[0]
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
    return Probe(media_type, width, height, seconds, None)


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
    streams = [stream for stream in container.streams.audio if stream.codec_context is not None]
    if not streams:
        raise MediaError(f"{path}: no decodable audio stream")
    stream = streams[0]
    seconds = _duration_seconds(container, stream)
    if seconds is None:
        raise MediaError(f"{path}: audio duration unknown")
    if not MIN_AUDIO_SECONDS <= seconds <= MAX_AUDIO_SECONDS:
        raise MediaError(f"{path}: audio of {seconds:.2f} s is outside {MIN_AUDIO_SECONDS} s to {MAX_AUDIO_SECONDS / 3600:g} h")
    decoded, error = _first_audio_frame(container, stream)
    if not decoded:
        reason = f" ({stream.codec_context.name}: {error.strerror})" if error else ""
        raise MediaError(f"{path}: no decodable audio stream{reason}")
    return Probe(media_type, None, None, seconds, None)


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
