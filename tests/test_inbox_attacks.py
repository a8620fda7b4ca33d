"""Attacks on the drop folder and the USB import, each with real files, links, FIFOs and names (security findings 1, 8, 19).

The attacker has the drop folder or a USB stick whose BANGTIN/ is imported on plug-in. They may put a
notice of their own on screen (the folder is trusted by design), but must never make the board show one
of its own files, hang or stall the folder, or write to the clerk's terminal.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.errors import SignageError
from signage.inbox.importer import import_folder
from signage.inbox.ingest import Inbox
from signage.store.db import Store
from signage.store.files import ContentStore

SECRET = "KHOA-BI-MAT-CUA-BANG-TIN ed25519 private"
NAME_MAX = 255


@pytest.fixture
def config(tmp_path: Path) -> BoardConfig:
    path = tmp_path / "board.toml"
    path.write_text(
        textwrap.dedent(
            """
            [board]
            id = "tan-quan"
            name = "UBND xã Tân Quan"
            data_dir = "state"
            [inbox]
            path = "bangtin"
            settle_seconds = 0.6
            [report]
            url = "http://127.0.0.1:9/report"
            key = "state/board.key"
            """
        ),
        encoding="utf-8",
    )
    loaded = load_config(path)
    assert loaded.inbox is not None and loaded.report is not None
    loaded.board.data_dir.mkdir(parents=True, exist_ok=True)
    loaded.inbox.path.mkdir(parents=True, exist_ok=True)
    # The board's own report key: the player must be able to read it, and so could a link to it.
    loaded.report.key.write_text(SECRET + "\nsecond line of the key\n", encoding="utf-8")
    return loaded


def key_of(config: BoardConfig) -> Path:
    assert config.report is not None
    return config.report.key


def inbox_of(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.path


def quarantine_of(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.quarantine


def make_inbox(config: BoardConfig) -> Inbox:
    return Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))


def poll(config: BoardConfig, inbox: Inbox | None = None, clock: float | None = None, settle: float = 0) -> list[str]:
    """One look at the drop folder, as the 0.25 s tick does, with no waiting for files to hold still."""
    store = Store(config.board.data_dir / "board.db")
    try:
        return (inbox or make_inbox(config)).poll(store, time.monotonic() if clock is None else clock, settle=settle, patience=0)
    finally:
        store.close()


def on_screen(config: BoardConfig) -> str:
    """Everything the board would draw from what it holds: titles, bodies, and the bytes of media."""
    parts = []
    for playable in load_content(config):
        parts += [playable.bulletin.title, playable.bulletin.body or ""]
        if playable.media_path is not None:
            parts.append(playable.media_path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def titles(config: BoardConfig) -> set[str]:
    return {playable.bulletin.title for playable in load_content(config)}


def reasons(config: BoardConfig) -> dict[str, str]:
    folder = quarantine_of(config)
    if not folder.is_dir():
        return {}
    return {p.name.removesuffix(".reason.txt"): p.read_text(encoding="utf-8") for p in folder.glob("*.reason.txt")}


def stick(tmp_path: Path) -> Path:
    folder = tmp_path / "usb" / "BANGTIN"
    folder.mkdir(parents=True)
    (folder / "thong-bao.txt").write_text("Thông báo từ USB\nNội dung thật.", encoding="utf-8")
    return folder


def assert_secret_kept(config: BoardConfig) -> None:
    assert SECRET not in on_screen(config)
    for reason in reasons(config).values():
        assert SECRET not in reason and "second line" not in reason
    assert key_of(config).read_text(encoding="utf-8").startswith(SECRET)  # the key itself untouched


# -- finding 1: links, FIFOs and devices out of the stick or the folder ----------------------------------


def test_symlink_on_usb_stick_to_board_key_is_not_imported(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    (folder / "khoa.txt").symlink_to(key_of(config))
    lines = import_folder(config, folder)
    assert "Thông báo từ USB" in titles(config)  # the rest of the stick is imported
    assert_secret_kept(config)
    assert not (inbox_of(config) / "khoa.txt").exists() and not (inbox_of(config) / "khoa.txt").is_symlink()
    refused = [line for line in lines if "khoa.txt" in line]
    assert refused and "liên kết" in refused[0]  # told, in Vietnamese
    assert any("liên kết" in reason for reason in reasons(config).values())  # and shown to the clerk by `signage status`


def test_symlink_in_drop_folder_to_board_key_is_set_aside_not_shown(config: BoardConfig) -> None:
    (inbox_of(config) / "khoa.txt").symlink_to(key_of(config))
    (inbox_of(config) / "that.txt").write_text("Thông báo thật\nNội dung.", encoding="utf-8")
    lines = poll(config)
    assert titles(config) == {"Thông báo thật"}
    assert_secret_kept(config)
    assert (quarantine_of(config) / "khoa.txt").is_symlink()  # the link itself set aside, never its target
    assert "liên kết" in reasons(config)["khoa.txt"] and any("khoa.txt" in line for line in lines)


def test_symlink_in_drop_folder_to_a_directory_is_set_aside(config: BoardConfig) -> None:
    (inbox_of(config) / "thu-muc.txt").symlink_to(config.board.data_dir, target_is_directory=True)
    poll(config)
    assert_secret_kept(config)
    assert "liên kết" in reasons(config)["thu-muc.txt"]


def test_symlinked_bangtin_folder_on_usb_stick_is_not_followed(config: BoardConfig, tmp_path: Path) -> None:
    (key_of(config).parent / "khoa.txt").write_text(SECRET, encoding="utf-8")
    mount = tmp_path / "usb"
    mount.mkdir()
    (mount / "BANGTIN").symlink_to(key_of(config).parent, target_is_directory=True)
    with pytest.raises(SignageError) as refused:
        import_folder(config, mount / "BANGTIN")
    assert "\n" not in str(refused.value) and "BANGTIN" in str(refused.value)
    assert list(inbox_of(config).iterdir()) == []
    assert_secret_kept(config)


def test_symlinked_subfolder_on_usb_stick_is_not_followed(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    (key_of(config).parent / "khoa.txt").write_text(SECRET, encoding="utf-8")
    (folder / "thu-muc").symlink_to(key_of(config).parent, target_is_directory=True)
    import_folder(config, folder)
    assert "Thông báo từ USB" in titles(config)
    assert not (inbox_of(config) / "khoa.txt").exists()
    assert_secret_kept(config)


def test_dotdot_in_the_import_path_does_not_climb_through_a_symlink(config: BoardConfig, tmp_path: Path) -> None:
    # usb/BANGTIN/.. must mean usb/ (as the name reads), not the parent of wherever BANGTIN points.
    elsewhere = key_of(config).parent / "inner"
    elsewhere.mkdir()
    (key_of(config).parent / "khoa.txt").write_text(SECRET, encoding="utf-8")
    mount = tmp_path / "usb"
    mount.mkdir()
    (mount / "BANGTIN").symlink_to(elsewhere, target_is_directory=True)
    (mount / "that.txt").write_text("Thông báo ở gốc USB\nNội dung.", encoding="utf-8")
    import_folder(config, mount / "BANGTIN" / "..")
    assert "Thông báo ở gốc USB" in titles(config)
    assert not (inbox_of(config) / "khoa.txt").exists()
    assert_secret_kept(config)


def test_hard_link_on_usb_stick_to_board_key_is_not_imported(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    os.link(key_of(config), folder / "khoa.txt")  # the same filesystem: a hard link is a name of the key itself
    lines = import_folder(config, folder)
    assert "Thông báo từ USB" in titles(config)
    assert not (inbox_of(config) / "khoa.txt").exists()
    assert_secret_kept(config)
    assert any("khoa.txt" in line and "liên kết cứng" in line for line in lines)


def test_hard_link_in_drop_folder_to_board_key_is_set_aside(config: BoardConfig) -> None:
    os.link(key_of(config), inbox_of(config) / "khoa.txt")
    poll(config)
    assert_secret_kept(config)
    assert "liên kết cứng" in reasons(config)["khoa.txt"]


def test_fifo_on_usb_stick_does_not_hang_the_import(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    os.mkfifo(folder / "treo.txt")  # opening it to read would wait for a writer forever
    (folder / "sub").mkdir()
    os.mkfifo(folder / "sub" / "treo2.png")
    result = subprocess.run(
        [sys.executable, "-m", "signage", "import", str(folder), "--config", str(config.path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Thông báo từ USB" in titles(config)
    assert "treo.txt" in result.stdout and "không phải tệp thông thường" in result.stdout


def test_fifo_in_drop_folder_is_set_aside_without_being_opened(config: BoardConfig) -> None:
    os.mkfifo(inbox_of(config) / "treo.txt")
    (inbox_of(config) / "that.txt").write_text("Thông báo thật\nNội dung.", encoding="utf-8")
    poll(config)  # would block forever if the FIFO were opened
    assert titles(config) == {"Thông báo thật"}
    assert "không phải tệp thông thường" in reasons(config)["treo.txt"]


def test_sidecar_symlink_in_drop_folder_to_board_key_is_not_read(config: BoardConfig) -> None:
    toml_secret = key_of(config).parent / "secret.toml"
    toml_secret.write_text(f'title = "{SECRET}"\n', encoding="utf-8")
    Image.new("RGB", (640, 480), (0, 200, 0)).save(inbox_of(config) / "anh.png")
    (inbox_of(config) / "anh.toml").symlink_to(toml_secret)
    poll(config)
    assert SECRET not in on_screen(config) and SECRET not in "".join(reasons(config).values())
    assert "liên kết" in reasons(config)["anh.png"]
    assert (quarantine_of(config) / "anh.png.toml").is_symlink()  # moved with its file, as a link


def test_sidecar_symlink_on_usb_stick_is_not_imported(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    toml_secret = key_of(config).parent / "secret.toml"
    toml_secret.write_text(f'title = "{SECRET}"\n', encoding="utf-8")
    (folder / "thong-bao.toml").symlink_to(toml_secret)
    import_folder(config, folder)
    assert SECRET not in on_screen(config)
    assert not (inbox_of(config) / "thong-bao.toml").exists()


def test_file_swapped_for_symlink_with_same_size_and_time_is_not_followed(config: BoardConfig) -> None:
    # The attacker lets a harmless file hold still, then swaps in a link whose size and time match:
    # whatever was looked at before, the file must be checked on the descriptor that is read.
    target = key_of(config)
    length = len(os.fsencode(str(target)))
    target.write_text(SECRET.ljust(length, "x")[:length], encoding="utf-8")
    assert target.stat().st_size == length  # what a followed stat of the link would say
    moment = 1_700_000_000_000_000_000
    os.utime(target, ns=(moment, moment))
    notice = inbox_of(config) / "tb.txt"
    notice.write_text("h" * length, encoding="utf-8")
    os.utime(notice, ns=(moment, moment))
    inbox = make_inbox(config)
    assert poll(config, inbox, clock=100.0, settle=1.0) == []  # seen, not yet held still
    swap = inbox_of(config) / ".swap"
    swap.symlink_to(target)
    os.utime(swap, ns=(moment, moment), follow_symlinks=False)
    os.replace(swap, notice)
    poll(config, inbox, clock=102.0, settle=1.0)
    assert_secret_kept(config)
    assert SECRET[:20] not in on_screen(config)


def test_symlinked_reason_file_in_quarantine_is_not_shown_by_status(config: BoardConfig) -> None:
    from signage.status import board_status

    quarantine_of(config).mkdir(parents=True)
    (quarantine_of(config) / "x.txt.reason.txt").symlink_to(key_of(config))
    os.link(key_of(config), quarantine_of(config) / "z.txt.reason.txt")
    status = board_status(config, datetime.now(config.board.timezone))
    assert SECRET not in json.dumps(status, ensure_ascii=False)


def test_fifo_reason_file_in_quarantine_does_not_hang_status(config: BoardConfig) -> None:
    quarantine_of(config).mkdir(parents=True)
    os.mkfifo(quarantine_of(config) / "y.txt.reason.txt")
    result = subprocess.run(
        [sys.executable, "-m", "signage", "status", "--config", str(config.path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_board_key_kept_in_the_drop_folder_is_never_shown_nor_moved(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A board set up with its key beside the notices: the key is the board's, not a notice.
    (tmp_path / "bangtin").mkdir()
    (tmp_path / "bangtin" / "khoa.txt").write_text(SECRET + "\n", encoding="utf-8")
    path = write_config(
        """
        [board]
        id = "tan-quan"
        name = "UBND xã Tân Quan"
        data_dir = "state"
        [inbox]
        path = "bangtin"
        [report]
        url = "http://127.0.0.1:9/report"
        key = "bangtin/khoa.txt"
        """
    )
    config = load_config(path)
    poll(config)
    assert SECRET not in on_screen(config)
    assert (tmp_path / "bangtin" / "khoa.txt").read_text(encoding="utf-8").startswith(SECRET)


# -- finding 8: any name the filesystem allows ----------------------------------------------------------


def long_name(stem: str, suffix: str, size: int = NAME_MAX) -> str:
    """A Vietnamese name of exactly `size` bytes in UTF-8 (multi-byte letters up to the end)."""
    words = "thông-báo-họp-dân-ấp-Hưng-Thịnh-về-việc-đóng-góp-xây-dựng-đường-giao-thông-nông-thôn-"
    name = stem
    while len((name + words + suffix).encode()) <= size:
        name += words
    for ch in words * 2:
        if len((name + ch + suffix).encode()) > size:
            break
        name += ch
    name += "a" * (size - len((name + suffix).encode()))
    assert len((name + suffix).encode()) == size and unicodedata.is_normalized("NFC", name)
    return name + suffix


def test_255_byte_vietnamese_name_in_drop_folder_is_taken_with_a_burst(config: BoardConfig) -> None:
    name = long_name("a-", ".txt")  # sorted before the others
    (inbox_of(config) / name).write_text("Thông báo có tên rất dài\nNội dung.", encoding="utf-8")
    picture = long_name("b-", ".png")
    Image.new("RGB", (320, 240), (0, 0, 200)).save(inbox_of(config) / picture)
    for index in range(20):
        (inbox_of(config) / f"tb-{index:02d}.txt").write_text(f"Thông báo số {index}\nNội dung.", encoding="utf-8")
    poll(config)
    held = titles(config)
    assert "Thông báo có tên rất dài" in held and len(held) == 22
    assert not quarantine_of(config).exists()


def test_255_byte_vietnamese_name_of_a_bad_file_is_set_aside_with_a_reason(config: BoardConfig) -> None:
    name = long_name("a-", ".jpg")
    for round in range(2):  # the second lands beside the first in quarantine: its name must fit too
        (inbox_of(config) / name).write_bytes(b"<html>not a picture</html>")
        (inbox_of(config) / f"tb-{round}.txt").write_text(f"Thông báo {round}\nNội dung.", encoding="utf-8")
        poll(config)
        assert not (inbox_of(config) / name).exists()
    assert titles(config) == {"Thông báo 0", "Thông báo 1"}
    kept = sorted(p.name for p in quarantine_of(config).iterdir())
    assert len(kept) == 4 and all(len(n.encode()) <= NAME_MAX for n in kept)  # two files, two reasons
    assert all(n.endswith((".jpg", ".jpg.reason.txt")) for n in kept)
    for reason in reasons(config).values():
        assert reason.startswith(name) and "nội dung tệp không đúng với đuôi tên tệp" in reason


def test_long_name_with_long_sidecar_is_set_aside_with_its_sidecar(config: BoardConfig) -> None:
    name = long_name("a-", ".pdf", size=NAME_MAX - 1)
    (inbox_of(config) / name).write_bytes(b"%PDF-1.7\n%%garbage" * 10)
    (inbox_of(config) / (name.removesuffix(".pdf") + ".toml")).write_text('title = "Quyết định"\n', encoding="utf-8")
    poll(config)
    kept = sorted(p.name for p in quarantine_of(config).iterdir())
    assert len(kept) == 3 and all(len(n.encode()) <= NAME_MAX for n in kept)
    assert list(inbox_of(config).iterdir()) == [quarantine_of(config)]  # set aside inside the share


def test_255_byte_vietnamese_name_on_usb_stick_is_imported_with_the_others(config: BoardConfig, tmp_path: Path) -> None:
    folder = stick(tmp_path)
    name = long_name("a-", ".txt")
    (folder / name).write_text("Thông báo dài từ USB\nNội dung.", encoding="utf-8")
    (folder / long_name("a-", ".exe")).write_bytes(b"MZ" + b"\x00" * 64)
    for index in range(5):
        (folder / f"tb-{index}.txt").write_text(f"USB số {index}\nNội dung.", encoding="utf-8")
    lines = import_folder(config, folder)
    held = titles(config)
    assert {"Thông báo dài từ USB", "Thông báo từ USB"} <= held and len(held) == 7
    assert any("set aside" in line for line in lines)
    assert all(len(p.name.encode()) <= NAME_MAX for p in quarantine_of(config).iterdir())


def test_name_that_is_not_utf8_does_not_block_the_folder(config: BoardConfig, tmp_path: Path) -> None:
    odd = os.fsdecode(b"th\xf4ng-b\xe1o.txt")  # Latin-1 bytes from an old computer: not UTF-8
    (inbox_of(config) / odd).write_text("Thông báo tên lạ\nNội dung.", encoding="utf-8")
    (inbox_of(config) / "that.txt").write_text("Thông báo thật\nNội dung.", encoding="utf-8")
    lines = poll(config)
    assert "Thông báo thật" in titles(config)
    for line in lines:
        line.encode("utf-8")  # printable on any terminal and in any log
    assert "tên tệp không phải chữ Unicode" in reasons(config)["th\\xf4ng-b\\xe1o.txt"]  # a name the share can show
    folder = stick(tmp_path)
    (folder / odd).write_text("USB tên lạ\nNội dung.", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "signage", "import", str(folder), "--config", str(config.path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Thông báo từ USB" in titles(config)


# -- finding 19: control characters in names reach a terminal or a log only escaped ---------------------

HOSTILE = ["\x1b]0;pwned\x07.exe", "\x1b[2J\x1b[31mdo.jpg", "x\u202egpj.exe", "y\x9b31m.pdf", "z\x7f\x00\x08.txt"]
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\x7f", "\x08"]


def test_printable_escapes_control_and_bidi_characters() -> None:
    from signage.text import printable

    assert printable("thông báo.txt") == "thông báo.txt"
    assert printable("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07"
    assert printable("a\u202eb\u2066c\x9bd\x7fe\nf") == "a\\u202eb\\u2066c\\x9bd\\x7fe\\x0af"
    assert printable(os.fsdecode(b"th\xf4ng")) == "th\\xf4ng"  # bytes that were not UTF-8
    printable(os.fsdecode(b"\xff")).encode("utf-8")


def test_escape_sequences_in_file_names_are_escaped_by_status_and_doctor(config: BoardConfig) -> None:
    for name in HOSTILE:
        if "\x00" in name:
            continue  # no filesystem allows NUL
        (inbox_of(config) / name).write_bytes(b"<html>junk</html>")
    (inbox_of(config) / "bidi\u202etxt.exe").write_bytes(b"MZ")
    poll(config)
    assert len(reasons(config)) == 5
    for command in (["status"], ["status", "--json"], ["doctor"]):
        result = subprocess.run(
            [sys.executable, "-m", "signage", *command, "--config", str(config.path)], capture_output=True, text=True, timeout=60
        )
        for raw in RAW:
            assert raw not in result.stdout and raw not in result.stderr, (command, raw)
        assert "\\x" in result.stdout, command  # shown, escaped (doctor shows the latest reason only)


def test_escape_sequences_in_file_names_are_escaped_in_log_lines_and_import_summary(
    config: BoardConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = stick(tmp_path)
    for name in HOSTILE:
        if "\x00" not in name:
            (folder / name).write_bytes(b"<html>junk</html>")
    with caplog.at_level(logging.INFO):
        lines = import_folder(config, folder)
    assert len(reasons(config)) == 4
    for text in [*lines, *(record.getMessage() for record in caplog.records)]:
        for raw in RAW:
            assert raw not in text, (text, raw)
    assert any("\\x1b]0;pwned\\x07.exe" in line for line in lines)
    for reason in reasons(config).values():  # the clerk opens these in an editor or a terminal
        for raw in RAW:
            assert raw not in reason
    for kept in os.listdir(quarantine_of(config)):  # and `ls` the folder
        for raw in RAW:
            assert raw not in kept
