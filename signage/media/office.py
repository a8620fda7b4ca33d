"""Office files turned by LibreOffice, once per content, off the render loop: slides and sheets into PDF, and
.doc, .odt and .rtf notices into .docx for the board's own reader (PDF pages when it cannot read them as text)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from signage.errors import MediaError
from signage.media.docxfile import decode_docx
from signage.text import printable

# What LibreOffice turns into pages; .docx stays the board's own reader (signage/media/docxfile.py).
OFFICE_SUFFIXES = frozenset({".doc", ".odt", ".rtf", ".pptx", ".ppt", ".odp", ".xlsx", ".ods"})
# Word processor files read like a .docx notice: LibreOffice's .docx of them keeps each run's font name, so
# text typed in `.VnTime`/`VNI-Times` is converted by the reader as in a .docx.
NOTICE_SUFFIXES = frozenset({".doc", ".odt", ".rtf"})
CONVERT_SECONDS = 60.0  # a document that takes longer is set aside: it would hold the drop folder's job
CONVERT_MEMORY_BYTES = 2 * 1024**3  # the converter's address space: a hostile file must not take the board's memory
CHUNK_BYTES = 1 << 20

# The leading bytes an office file may have: Word 97/PowerPoint 97 (OLE2), RTF, and the zip of OOXML and
# OpenDocument. A .doc saved as RTF is common and taken; anything else LibreOffice would import as plain
# text and show its bytes as a notice.
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RTF = b"{\\rtf"
ZIP = b"PK\x03\x04"
# LibreOffice's import filter for each (extension, leading bytes): named, so a damaged file fails instead of
# being read as plain text (its bytes shown as a notice).
FILTERS = {
    ".doc": {OLE2: "MS Word 97", RTF: "Rich Text Format", ZIP: "MS Word 2007 XML"},
    ".rtf": {RTF: "Rich Text Format"},
    ".ppt": {OLE2: "MS PowerPoint 97"},
    ".odt": {ZIP: "writer8"},
    ".odp": {ZIP: "impress8"},
    ".ods": {ZIP: "calc8"},
    ".pptx": {ZIP: "Impress MS PowerPoint 2007 XML"},
    ".xlsx": {ZIP: "Calc MS Excel 2007 XML"},
    # Not taken by the drop folder (OFFICE_SUFFIXES): for a reader that wants a Word file's pages, faithfully.
    ".docx": {ZIP: "MS Word 2007 XML"},
}

NOT_OFFICE = "nội dung không phải tệp văn phòng (Word, PowerPoint, Excel, OpenDocument)"
NO_CONVERTER = "máy chưa cài LibreOffice (soffice) để chuyển tệp văn phòng"
TIMED_OUT = f"LibreOffice chuyển tệp quá {CONVERT_SECONDS:.0f} giây: bỏ qua"
NO_PAGES = "LibreOffice không chuyển được tệp sang PDF (tệp hỏng hoặc không đọc được)"
NO_DOCX = "LibreOffice không chuyển được tệp sang Word (tệp hỏng hoặc không đọc được)"


def is_office(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in OFFICE_SUFFIXES


def reads_as_notice(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in NOTICE_SUFFIXES


def import_filter(head: bytes, suffix: str) -> str | None:
    """LibreOffice's import filter for a file of this extension starting with `head`, or None: no office file (pure)."""
    return next((name for magic, name in FILTERS.get(suffix.lower(), {}).items() if head.startswith(magic)), None)


def _sha256(path: Path) -> tuple[str, bytes]:
    digest = hashlib.sha256()
    head = b""
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            head = head or chunk[:16]
            digest.update(chunk)
    return digest.hexdigest(), head


def _fail(path: Path, reason: str) -> MediaError:
    return MediaError(f"{printable(path.name)}: {reason}")


def to_pdf(path: Path, cache_dir: Path, *, name: str | None = None, timeout_seconds: float = CONVERT_SECONDS) -> Path:
    """`path` as a PDF, `<cache_dir>/<sha256 of its bytes>.pdf`: converted once, then taken from the cache.

    `name` is the file's name as the clerk gave it (for the message; `path` may be a staged copy).
    Raises MediaError naming the file when the bytes are no office file, or LibreOffice fails or runs
    out of time; a file LibreOffice could not turn into pages is remembered (`<sha256>.failed`) and
    refused again at once.
    """
    return _converted(path, cache_dir, ("pdf", "pdf", ""), name, timeout_seconds)


def to_docx(path: Path, cache_dir: Path, *, name: str | None = None, timeout_seconds: float = CONVERT_SECONDS) -> Path:
    """`path` (a .doc, .odt or .rtf) as a Word 2007 document, `<cache_dir>/<sha256 of its bytes>.docx`: as `to_pdf`,
    with the same limits, import filter and cache; a file LibreOffice could not read is remembered (`<sha256>.docx.failed`)."""
    return _converted(path, cache_dir, ("docx", "docx:MS Word 2007 XML", ".docx"), name, timeout_seconds)


def read_office_notice(path: Path, cache_dir: Path, *, name: str | None = None) -> tuple[str, str]:
    """(title, body) of a .doc, .odt or .rtf notice, read by the board's .docx reader from LibreOffice's .docx of it.

    Raises NeedsPages (with the notice's title when found) when it should be shown as its pages, MediaError
    naming the file when LibreOffice cannot read it or the reader refuses it."""
    shown = printable(name or path.name)
    return decode_docx(to_docx(path, cache_dir, name=name).read_bytes(), shown)


def _converted(path: Path, cache_dir: Path, target: tuple[str, str, str], name: str | None, timeout_seconds: float) -> Path:
    """`target`: (the result's extension, soffice's --convert-to, the failure marker's infix)."""
    extension, convert_to, infix = target
    shown = Path(name or path.name)
    suffix = path.suffix.lower()
    try:
        sha256, head = _sha256(path)
    except OSError as exc:
        raise _fail(shown, f"không đọc được tệp ({exc.strerror})") from None
    infilter = import_filter(head, suffix)
    if infilter is None:
        raise _fail(shown, NOT_OFFICE)
    result = cache_dir / f"{sha256}.{extension}"
    failed = cache_dir / f"{sha256}{infix}.failed"
    if result.is_file():
        return result
    if failed.is_file():
        raise _fail(shown, failed.read_text(encoding="utf-8", errors="replace").strip() or _no_result(result))
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise _fail(shown, NO_CONVERTER)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock = os.open(cache_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise _fail(shown, f"không ghi được thư mục chuyển đổi {cache_dir} ({exc.strerror})") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one LibreOffice at a time per profile
        if result.is_file():
            return result
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".work-") as work:
            launch = [soffice, f"--infilter={infilter}"]
            return _convert(path, Path(work), (launch, convert_to), cache_dir, (result, failed), shown, timeout_seconds)
    finally:
        os.close(lock)


def _convert(
    path: Path,
    work: Path,
    how: tuple[list[str], str],
    cache_dir: Path,
    targets: tuple[Path, Path],
    shown: Path,
    timeout_seconds: float,
) -> Path:
    launch, convert_to = how
    result, failed = targets
    source = work / f"document{path.suffix.lower()}"  # LibreOffice names its output after its input
    shutil.copyfile(path, source)
    profile = cache_dir / ".profile"  # kept: a new profile costs LibreOffice seconds at every start
    outdir = work / "out"
    command = [
        *launch,
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--nodefault",
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--convert-to",
        convert_to,
        "--outdir",
        str(outdir),
        str(source),
    ]
    # The memory limit through the shell's ulimit rather than a preexec_fn, which may deadlock a process with threads.
    limited = ["/bin/sh", "-c", f'ulimit -v {CONVERT_MEMORY_BYTES // 1024} && exec "$@"', "soffice", *command]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "LANG": "C.UTF-8", "SAL_USE_VCLPLUGIN": "svp"}
    process = subprocess.Popen(
        limited,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=work,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # soffice's launcher and soffice.bin: the whole group
        process.communicate()
        raise _fail(shown, TIMED_OUT) from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # nothing of it outlives the conversion
    made = outdir / f"document{result.suffix}"
    magic = b"%PDF-" if result.suffix == ".pdf" else ZIP
    if not made.is_file() or made.stat().st_size == 0 or not made.read_bytes().startswith(magic):
        last = next((line for line in reversed(output.decode("utf-8", "replace").splitlines()) if line.strip()), "")
        reason = f"{_no_result(result)}: {printable(last)[:200]}" if last else _no_result(result)
        if process.returncode is not None and process.returncode >= 0:  # LibreOffice ran and judged the file
            _write_atomically(failed, reason.encode("utf-8"))
        raise _fail(shown, reason)
    _write_atomically(result, made.read_bytes())
    return result


def _no_result(result: Path) -> str:
    return NO_PAGES if result.suffix == ".pdf" else NO_DOCX


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.partial")
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def replace_with_pdf(staged: Path, cache_dir: Path, name: str) -> tuple[str, int]:
    """Overwrite a private staged copy of an office file with its PDF (see `to_pdf`); returns the PDF's (SHA-256, bytes)."""
    pdf = to_pdf(staged, cache_dir, name=name)
    digest = hashlib.sha256()
    size = 0
    with pdf.open("rb") as source, staged.open("wb") as target:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
        target.flush()
        os.fsync(target.fileno())
    return digest.hexdigest(), size
