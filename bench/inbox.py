"""Drop-folder figures: from the moment a copy completes to the moment the player's current slide is that notice.

1. 50 normal notices dropped one at a time into a board with nothing else to show (the whole pipeline:
   inotify, holding still, decoding, the store, the schedule, composing, the frame); goal p95 < 2 s.
2. 10 emergency notices dropped while a long normal notice is on screen: they must pre-empt; goal < 1 s
   after the copy completes is the target, reported as measured.
3. The CPU used by watching an idle folder for 20 s (watchdog + the 0.25 s tick); goal < 1 % of a core.
4. Office files and phone photos (issue 16), each dropped `--runs` times with distinct bytes (so the conversion
   cache never answers): an official notice .docx (the board's own reader), a .doc and a .pptx (LibreOffice
   headless, goal p95 < 5 s) and a 12 MP HEIC photo (goal p95 < 2 s); the converter's peak memory (its process
   tree sampled with psutil while it converts), beside the 2 GiB of address space `media/office.py` allows it.
   Peer: the same .doc files converted by a bare `soffice --headless --convert-to pdf` in the same run.

A copy "completes" when its temporary name is renamed into the folder (as copy tools and Samba do).
Run: `.venv/bin/python bench/inbox.py` (`--only office` for figure 4 alone, `--runs N`, `--quick` for 3 runs).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pillow_heif
import psutil
from PIL import Image

from signage.config import load_config
from signage.inbox.rules import bulletin_id
from signage.inbox.watch import InboxWatch
from signage.media.office import CONVERT_MEMORY_BYTES
from signage.player import Player, SystemClock
from signage.render.output import HeadlessOutput


def board(tmp: Path, extra: str = "") -> Path:
    path = tmp / "board.toml"
    path.write_text(
        '[board]\nid = "tan-quan"\nname = "UBND xã Tân Quan"\ndata_dir = "state"\n[inbox]\npath = "bangtin"\n' + extra,
        encoding="utf-8",
    )
    return path


def drop(folder: Path, name: str, text: str) -> float:
    temporary = folder / f".{name}.part"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, folder / name)
    return time.monotonic()


def on_screen(player: Player) -> str | None:
    slide = player.slide
    return slide.playable.bulletin.title if slide is not None and slide.playable is not None else None


def run_drops(player: Player, folder: Path, count: int, prefix: str, keep: bool) -> list[float]:
    latencies: list[float] = []
    pending: dict[str, float] = {}
    done = threading.Event()

    def writer() -> None:
        for index in range(count):
            title = f"{prefix} số {index}"
            pending[title] = drop(folder, f"{prefix}-{index:02d}.txt", f"{title}\nNội dung thông báo {index}.")
            while title in pending and not done.is_set():
                time.sleep(0.01)
            if not keep:
                (folder / f"{prefix}-{index:02d}.txt").unlink()
            time.sleep(0.4)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + count * 8
    while not done.is_set() and time.monotonic() < deadline:
        player._handle_events()
        player.step()
        title = on_screen(player)
        if title in pending:
            latencies.append(time.monotonic() - pending.pop(title))
        time.sleep(1 / 60)
    done.set()
    thread.join()
    return latencies


def report(label: str, values: list[float], goal: str) -> None:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    print(f"{label}: {len(values)} drops, median {statistics.median(values):.2f} s, p95 {p95:.2f} s, worst {values[-1]:.2f} s  ({goal})")


def notices() -> None:
    with tempfile.TemporaryDirectory(prefix="signage-bench-inbox-") as scratch:
        tmp = Path(scratch)
        config = load_config(board(tmp))
        output = HeadlessOutput(config.display)
        player = Player(config, output, SystemClock(config.board.timezone))
        player.start()
        player.jobs.start()
        try:
            assert config.inbox is not None
            normal = run_drops(player, config.inbox.path, 50, "Thông báo", keep=False)
            report("normal notice, copy complete → on screen (idle board)", normal, "goal p95 < 2 s")
            (config.inbox.path / "dai.txt").write_text("Thông báo dài\n" + "Nội dung rất dài. " * 40, encoding="utf-8")
            time.sleep(2)
            emergency = run_drops(player, config.inbox.path, 10, "KHAN_Bão", keep=False)
            report("emergency notice, copy complete → on screen (pre-empting)", emergency, "target 1 s")
        finally:
            player.close()
            output.close()

        (tmp / "idle").mkdir()
        idle = load_config(board(tmp / "idle"))
        watcher = InboxWatch(idle, lambda changes: None)
        watcher.start()
        stop = threading.Event()

        def ticking() -> None:
            while not stop.wait(0.25):
                watcher.tick()

        thread = threading.Thread(target=ticking)
        thread.start()
        process = psutil.Process()
        before = process.cpu_times()
        time.sleep(20)
        after = process.cpu_times()
        stop.set()
        thread.join()
        watcher.stop()
        used = (after.user - before.user) + (after.system - before.system)
        print(f"watching an idle folder for 20 s: {used / 20 * 100:.2f} % of one core  (goal < 1 %)")


# -- office files and phone photos (issue 16) ------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
ODF = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2"'
)
BIG = (
    '<office:automatic-styles><style:style style:name="big" style:family="paragraph">'
    '<style:text-properties fo:font-size="36pt" fo:font-weight="bold"/></style:style></office:automatic-styles>'
)
PHONE_PHOTO = (4032, 3024)  # a 12 MP phone camera's picture


def _notice_lines(index: int) -> tuple[str, str]:
    return f"Về việc tiêm chủng đợt {index}", f"Trạm y tế xã tổ chức tiêm chủng đợt {index} cho trẻ em vào sáng thứ Bảy. " * 6


def _docx(index: int) -> bytes:
    """An official notice as Word lays it out (authority and motto in a borderless table, then THÔNG BÁO, its subject, the body)."""

    def paragraph(text: str) -> str:
        return f'<w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    def cell(*texts: str) -> str:
        return "<w:tc>" + "".join(paragraph(text) for text in texts) + "</w:tc>"

    subject, body = _notice_lines(index)
    header = (
        '<w:tbl><w:tblPr><w:tblBorders><w:top w:val="nil"/><w:insideH w:val="nil"/></w:tblBorders></w:tblPr><w:tr>'
        + cell("ỦY BAN NHÂN DÂN", "XÃ AN BÌNH", f"Số: {index}/TB-UBND")
        + cell("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
        + "</w:tr></w:tbl>"
    )
    blocks = header + paragraph("THÔNG BÁO") + paragraph(subject) + paragraph(body) + paragraph("Trân trọng thông báo./.")
    document = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{W}"><w:body>{blocks}</w:body></w:document>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", DOCX_TYPES)
        package.writestr("_rels/.rels", DOCX_RELS)
        package.writestr("word/document.xml", document)
    return buffer.getvalue()


def _saved_by_libreoffice(folder: Path, sources: dict[str, str], target: str) -> list[bytes]:
    """Each source (name → text) saved by LibreOffice as an office would (`target` is soffice's --convert-to), in one run."""
    assert SOFFICE is not None
    folder.mkdir()
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")
    profile = f"-env:UserInstallation={(folder / '.profile').as_uri()}"
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            "--norestore",
            profile,
            "--convert-to",
            target,
            "--outdir",
            str(folder),
            *(str(folder / n) for n in sources),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    suffix = target.split(":")[0]
    return [(folder / f"{Path(name).stem}.{suffix}").read_bytes() for name in sources]


def _docs(folder: Path, count: int) -> list[bytes]:
    pages = {}
    for index in range(count):
        subject, body = _notice_lines(index)
        pages[f"notice-{index:02d}.html"] = (
            f'<html><head><meta charset="utf-8"></head><body><h1 style="font-size:36pt">THÔNG BÁO {subject.upper()}</h1>'
            f'<p style="font-size:16pt">{body}</p></body></html>'
        )
    return _saved_by_libreoffice(folder, pages, "doc:MS Word 97")


def _decks(folder: Path, count: int) -> list[bytes]:
    decks = {}
    for index in range(count):
        subject, body = _notice_lines(index)
        slides = "".join(
            f'<draw:page draw:name="p{page}"><draw:frame svg:x="1cm" svg:y="2cm" svg:width="26cm" svg:height="12cm">'
            f'<draw:text-box><text:p text:style-name="big">{subject} ({page})</text:p><text:p>{body}</text:p></draw:text-box>'
            "</draw:frame></draw:page>"
            for page in range(1, 4)
        )
        decks[f"slides-{index:02d}.fodp"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document {ODF} '
            f'office:mimetype="application/vnd.oasis.opendocument.presentation">{BIG}'
            f"<office:body><office:presentation>{slides}</office:presentation></office:body></office:document>"
        )
    return _saved_by_libreoffice(folder, decks, "pptx:Impress MS PowerPoint 2007 XML")


def _heic(index: int) -> bytes:
    """A 12 MP phone photo as an iPhone saves it (HEIC, held upright: EXIF orientation 6), its colours its own."""
    pillow_heif.register_heif_opener()
    tint = random.Random(index)
    shade = Image.linear_gradient("L").resize((256, 192))
    channels = [shade.point([(value + tint.randint(0, 255)) % 256 for value in range(256)]) for _ in range(3)]
    photo = Image.merge("RGB", channels).resize(PHONE_PHOTO, Image.Resampling.BILINEAR)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, "HEIF", exif=exif.tobytes(), quality=85)
    return buffer.getvalue()


class TreePeak:
    """The highest memory of this process's descendants (the converter's tree) while it runs, sampled every 50 ms."""

    def __init__(self) -> None:
        self.rss_bytes = 0  # the tree's resident memory, summed
        self.address_space_bytes = 0  # one process's virtual size: what `ulimit -v` in media/office.py limits
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            rss = 0
            for child in me.children(recursive=True):
                try:
                    memory = child.memory_info()
                except psutil.Error:
                    continue
                rss += memory.rss
                self.address_space_bytes = max(self.address_space_bytes, memory.vms)
            self.rss_bytes = max(self.rss_bytes, rss)


def time_to_screen(player: Player, folder: Path, files: list[tuple[str, bytes]], deadline_seconds: float = 120.0) -> list[float]:
    """Each file renamed into the folder in turn; seconds until the player's current slide is its bulletin; then removed."""
    latencies = []
    for name, data in files:
        temporary = folder / f".{name}.part"
        temporary.write_bytes(data)
        os.replace(temporary, folder / name)
        complete = time.monotonic()
        wanted = bulletin_id(name)
        while time.monotonic() - complete < deadline_seconds:
            player._handle_events()
            player.step()
            slide = player.slide
            if slide is not None and slide.playable is not None and slide.playable.bulletin.id == wanted:
                latencies.append(time.monotonic() - complete)
                break
            time.sleep(1 / 60)
        else:
            print(f"  {name}: not on screen after {deadline_seconds:.0f} s", flush=True)
        (folder / name).unlink()
        time.sleep(0.4)
    return latencies


def bare_soffice(work: Path, documents: list[bytes]) -> list[float]:
    """The peer: each .doc converted by `soffice --headless --convert-to pdf` alone (its own warm profile), in seconds."""
    assert SOFFICE is not None
    profile = f"-env:UserInstallation={(work / '.profile').as_uri()}"
    seconds = []
    for index, data in enumerate([documents[0], *documents]):  # the first run only makes the profile
        source = work / f"peer-{index:02d}.doc"
        source.write_bytes(data)
        began = time.monotonic()
        subprocess.run(
            [SOFFICE, "--headless", profile, "--convert-to", "pdf", "--outdir", str(work / "out"), str(source)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        if index > 0:
            seconds.append(time.monotonic() - began)
    return seconds


def mib(count: int) -> str:
    return f"{count / 1024**2:.0f} MiB"


def office(runs: int) -> None:
    if SOFFICE is None:
        print("office files: LibreOffice (soffice) is not installed: make system-test-deps")
        return
    with tempfile.TemporaryDirectory(prefix="signage-bench-office-") as scratch:
        tmp = Path(scratch)
        began = time.monotonic()
        docs = _docs(tmp / "doc", runs + 1)
        decks = _decks(tmp / "pptx", runs)
        photos = [_heic(index) for index in range(runs)]
        print(f"samples made by LibreOffice and pillow-heif in {time.monotonic() - began:.0f} s", flush=True)
        config = load_config(board(tmp))
        output = HeadlessOutput(config.display)
        player = Player(config, output, SystemClock(config.board.timezone))
        player.start()
        player.jobs.start()
        try:
            assert config.inbox is not None
            folder = config.inbox.path
            first = time_to_screen(player, folder, [("thong-bao-dau-tien.doc", docs[runs])])
            print(f"first office file on a new board (LibreOffice makes its profile): {first[0]:.2f} s", flush=True)
            word = time_to_screen(player, folder, [(f"thong-bao-{i:02d}.docx", _docx(i)) for i in range(runs)])
            report(".docx official notice, copy complete → on screen (the board's Word reader)", word, "goal p95 < 2 s")
            with TreePeak() as doc_peak:
                doc = time_to_screen(player, folder, [(f"cong-van-{i:02d}.doc", docs[i]) for i in range(runs)])
            report(".doc (Word 97), copy complete → on screen (LibreOffice → PDF)", doc, "goal p95 < 5 s")
            with TreePeak() as deck_peak:
                deck = time_to_screen(player, folder, [(f"lich-tiem-{i:02d}.pptx", decks[i]) for i in range(runs)])
            report(".pptx (3 slides), copy complete → on screen (LibreOffice → PDF)", deck, "goal p95 < 5 s")
            photo = time_to_screen(player, folder, [(f"IMG_{1000 + i}.HEIC", photos[i]) for i in range(runs)])
            report("12 MP HEIC photo, copy complete → on screen (pillow-heif → JPEG)", photo, "goal p95 < 2 s")
        finally:
            player.close()
            output.close()
        (tmp / "peer").mkdir()
        with TreePeak() as peer_peak:
            peer = bare_soffice(tmp / "peer", docs[:runs])
        report("peer: the same .doc files by a bare `soffice --headless --convert-to pdf`", peer, "same run, warm profile")
        limit = mib(CONVERT_MEMORY_BYTES)
        peaks = {".doc": doc_peak, ".pptx": deck_peak, "bare soffice": peer_peak}
        shown = ", ".join(f"{label} {mib(peak.rss_bytes)} RSS ({mib(peak.address_space_bytes)})" for label, peak in peaks.items())
        print(f"converter's peak memory, its process tree (largest process's address space): {shown}  (limit: {limit} of address space)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=("notices", "office"), help="run only the plain notices' figures (1-3) or the office files' (4)")
    parser.add_argument("--runs", type=int, default=10, help="drops of each office file and photo (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 drops of each office file and photo")
    args = parser.parse_args()
    # A conversion holds the drop-folder job for seconds: the scheduler's "skipped" warnings every 0.25 s are expected.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    if args.only != "office":
        notices()
    if args.only != "notices":
        office(3 if args.quick else args.runs)


if __name__ == "__main__":
    main()
