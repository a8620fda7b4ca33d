"""Large media is stored once (issue 16): the staged copy is renamed into the store, never copied again,
and where the filesystem clones (XFS, btrfs) the store shares the clerk's extents instead of copying them.

Counted with real bytes: the process's `write_bytes` (/proc/self/io) and the filesystem's free space.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import struct
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from signage.config import BoardConfig, load_config
from signage.inbox.ingest import Inbox
from signage.store.db import Store
from signage.store.files import ContentStore
from tests.test_decoding import H264_ENCODER, encode_video

MiB = 1 << 20


class StagingSeen(ContentStore):
    """The real store, noting the inode of every staged file it hands out (to tell a rename from a copy)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.staged_inodes: list[int] = []

    def stage(self, suffix: str) -> tuple[BinaryIO, Path]:
        writer, staged = super().stage(suffix)
        self.staged_inodes.append(os.fstat(writer.fileno()).st_ino)
        return writer, staged


def board_config(root: Path) -> BoardConfig:
    root.mkdir(parents=True, exist_ok=True)
    (root / "board.toml").write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            settle_seconds = 0.6
            """
        ),
        encoding="utf-8",
    )
    config = load_config(root / "board.toml")
    assert config.inbox is not None
    config.inbox.path.mkdir(parents=True, exist_ok=True)
    return config


def written_bytes() -> int:
    """Bytes this process has sent towards storage (dirtied pages included), all threads."""
    with open("/proc/self/io", encoding="ascii") as counters:
        fields = dict(line.split(": ") for line in counters.read().splitlines())
    return int(fields["write_bytes"])


def large_video(path: Path, padding_bytes: int, *, sparse: bool) -> int:
    """A real short MP4 followed by a `free` box of `padding_bytes` (players skip it): a large video file."""
    clip = path.with_name(".clip-source.mp4")
    encode_video(clip, H264_ENCODER, size=(160, 120), options={"preset": "ultrafast"} if H264_ENCODER == "libx264" else None)
    head = clip.read_bytes()
    clip.unlink()
    with open(path, "wb") as out:
        out.write(head)
        out.write(struct.pack(">I4s", padding_bytes, b"free"))
        if sparse:
            out.truncate(len(head) + padding_bytes)
        else:
            for _ in range((padding_bytes - 8) // MiB):
                out.write(os.urandom(MiB))
            out.write(os.urandom((padding_bytes - 8) % MiB))
        out.flush()
        os.fsync(out.fileno())
    return path.stat().st_size


def take(config: BoardConfig, content: ContentStore) -> str:
    """Poll the drop folder as the board does until it takes its one file; the stored file's SHA-256."""
    inbox = Inbox(config, content, lambda: datetime.now(config.board.timezone))
    store = Store(config.board.data_dir / "board.db")
    try:
        for step in range(20):
            lines = inbox.poll(store, 10.0 * step, settle=1.0)
            if any(": taken as" in line for line in lines):
                break
            assert not any("quarantine" in line or "set aside" in line for line in lines), lines
            time.sleep(0.1)
        else:
            raise AssertionError("the video was never taken")
    finally:
        store.close()
    (stored,) = content.names()
    return stored


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def edit_in_place(path: Path) -> None:
    """What a clerk's editor may do: overwrite bytes inside the file, same inode."""
    with open(path, "r+b") as original:
        original.seek(-4096, os.SEEK_END)
        original.write(b"\xff" * 4096)
        original.flush()
        os.fsync(original.fileno())


def test_a_large_video_is_written_to_disk_once_and_its_staged_copy_becomes_the_stored_file(tmp_path: Path) -> None:
    calibration = tmp_path / "calibration"
    before = written_bytes()
    with open(calibration, "wb") as out:
        out.write(os.urandom(8 * MiB))
        os.fsync(out.fileno())
    if written_bytes() - before < 4 * MiB:
        pytest.skip("this filesystem does not count the bytes a process writes (/proc/self/io)")
    config = board_config(tmp_path / "board")
    assert config.inbox is not None
    size = large_video(config.inbox.path / "Lễ hội.mp4", 200 * MiB, sparse=True)
    content = StagingSeen(config.board.data_dir / "media")

    before = written_bytes()
    stored = take(config, content)
    written = written_bytes() - before

    assert written < 1.5 * size, f"{written / MiB:.0f} MiB written for a {size / MiB:.0f} MiB video: copied twice"
    stored_file = content.path(stored)
    assert stored_file.stat().st_ino in content.staged_inodes  # the staged copy renamed, not copied again
    assert stored_file.stat().st_size == size and sha256_of(stored_file) == stored
    assert list(content.staging_dir.iterdir()) == []


def test_a_clerk_editing_the_original_after_it_is_taken_cannot_change_the_stored_bytes(tmp_path: Path) -> None:
    config = board_config(tmp_path / "board")
    assert config.inbox is not None
    original = config.inbox.path / "Lễ hội.mp4"
    large_video(original, 4 * MiB, sparse=False)
    content = ContentStore(config.board.data_dir / "media")
    stored = take(config, content)

    edit_in_place(original)

    assert sha256_of(original) != stored
    assert sha256_of(content.path(stored)) == stored


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def cloning_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A small XFS (or btrfs) image mounted by loop under tmp_path; skipped when that cannot be done here."""
    if os.geteuid() != 0:
        pytest.skip("mounting a filesystem image that clones (XFS, btrfs) needs root")
    makers = [(shutil.which("mkfs.xfs"), ["-q", "-f", "-m", "reflink=1"]), (shutil.which("mkfs.btrfs"), ["-q", "-f"])]
    image, mount_point = tmp_path / "clones.img", tmp_path / "clones"
    mount_point.mkdir()
    reasons = []
    for maker, options in makers:
        if maker is None:
            continue
        image.unlink(missing_ok=True)
        with open(image, "wb") as sparse:
            sparse.truncate(400 * MiB)
        made = _run([maker, *options, str(image)])
        if made.returncode != 0:
            reasons.append(f"{Path(maker).name}: {made.stderr.strip()[:200]}")
            continue
        mounted = _run(["mount", "-o", "loop", str(image), str(mount_point)])
        if mounted.returncode == 0:
            break
        reasons.append(f"mount: {mounted.stderr.strip()[:200]}")
    else:
        pytest.skip("no filesystem that clones could be made and mounted: " + ("; ".join(reasons) or "no mkfs.xfs or mkfs.btrfs"))
    try:
        yield mount_point
    finally:
        for _ in range(10):
            if _run(["umount", str(mount_point)]).returncode == 0:
                break
            time.sleep(0.5)
        else:
            _run(["umount", "-l", str(mount_point)])
        with contextlib.suppress(OSError):
            image.unlink()


def test_on_a_filesystem_that_clones_a_large_video_is_cloned_into_the_store_and_stays_private(cloning_filesystem: Path) -> None:
    config = board_config(cloning_filesystem / "board")
    assert config.inbox is not None
    original = config.inbox.path / "Lễ hội.mp4"
    size = large_video(original, 64 * MiB, sparse=False)
    content = StagingSeen(config.board.data_dir / "media")
    free_before = shutil.disk_usage(cloning_filesystem).free

    before = written_bytes()
    stored = take(config, content)
    written = written_bytes() - before
    used = free_before - shutil.disk_usage(cloning_filesystem).free

    assert written < size / 4, f"{written / MiB:.1f} MiB written for a {size / MiB:.0f} MiB video: copied, not cloned"
    assert used < size / 4, f"{used / MiB:.1f} MiB of the disk used for a {size / MiB:.0f} MiB video: copied, not cloned"
    stored_file = content.path(stored)
    assert stored_file.stat().st_ino in content.staged_inodes
    assert sha256_of(stored_file) == stored == sha256_of(original)

    edit_in_place(original)  # copy-on-write: the clerk's edit gets new blocks, the board's clone keeps the old ones

    assert sha256_of(original) != stored
    assert sha256_of(stored_file) == stored
