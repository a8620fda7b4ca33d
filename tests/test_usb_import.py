"""`signage import` from a USB stick: same names in different folders kept apart, nothing overwritten, nothing
copied twice, and a summary in Vietnamese of what was taken, set aside and skipped (issue 16, USB)."""

from __future__ import annotations

import os
import textwrap
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from signage.cli import main
from signage.config import BoardConfig, load_config
from signage.content import load_content
from signage.model import Priority
from signage.store.db import Store


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
            """
        ),
        encoding="utf-8",
    )
    loaded = load_config(path)
    assert loaded.inbox is not None
    return loaded


def drop_folder(config: BoardConfig) -> Path:
    assert config.inbox is not None
    return config.inbox.path


def stick(tmp_path: Path) -> Path:
    folder = tmp_path / "usb" / "BANGTIN"
    folder.mkdir(parents=True)
    return folder


def photo(path: Path, colour: tuple[int, int, int]) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 240), colour).save(path, format="JPEG")
    return path.read_bytes()


def run_import(config: BoardConfig, folder: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["import", str(folder), "--config", str(config.path)]) == 0
    return capsys.readouterr().out.splitlines()


def taken_names(config: BoardConfig) -> set[str]:
    store = Store(config.board.data_dir / "board.db")
    try:
        return set(store.inbox_files())
    finally:
        store.close()


def in_drop_folder(config: BoardConfig) -> set[str]:
    return {path.name for path in drop_folder(config).iterdir() if not path.name.startswith(".")}


def test_same_names_in_two_month_folders_are_both_taken_with_the_folder_in_the_name(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stick(tmp_path)
    november = photo(folder / "Thang 11" / "Thong bao.jpg", (200, 0, 0))
    december = photo(folder / "Thang 12" / "Thong bao.jpg", (0, 0, 200))
    lines = run_import(config, folder, capsys)
    assert (drop_folder(config) / "Thang 11 - Thong bao.jpg").read_bytes() == november
    assert (drop_folder(config) / "Thang 12 - Thong bao.jpg").read_bytes() == december
    assert taken_names(config) == {"Thang 11 - Thong bao.jpg", "Thang 12 - Thong bao.jpg"}
    told = [line for line in lines if line.startswith("đã nhận")]
    assert len(told) == 2 and "Thang 11/Thong bao.jpg" in told[0] and "Thang 11 - Thong bao.jpg" in told[0]


def test_importing_the_same_stick_twice_copies_nothing_the_second_time(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stick(tmp_path)
    photo(folder / "Thang 11" / "Thong bao.jpg", (200, 0, 0))
    photo(folder / "Thong bao.jpg", (0, 200, 0))
    run_import(config, folder, capsys)
    before = in_drop_folder(config)
    lines = run_import(config, folder, capsys)
    assert in_drop_folder(config) == before == {"Thang 11 - Thong bao.jpg", "Thong bao.jpg"}
    assert not [line for line in lines if line.startswith("đã nhận")]
    assert len([line for line in lines if line.startswith("đã có")]) == 2
    assert lines[-1].startswith("Tổng cộng: 0 tệp đã nhận") and "2 tệp đã có sẵn" in lines[-1]


def test_a_different_file_under_a_name_already_in_the_drop_folder_gets_its_own_name(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_folder(config).mkdir(parents=True)
    already = photo(drop_folder(config) / "Thong bao.jpg", (200, 0, 0))
    folder = stick(tmp_path)
    newer = photo(folder / "Thong bao.jpg", (0, 0, 200))
    lines = run_import(config, folder, capsys)
    assert (drop_folder(config) / "Thong bao.jpg").read_bytes() == already  # never overwritten
    assert (drop_folder(config) / "Thong bao-1.jpg").read_bytes() == newer
    assert any(line.startswith("đã nhận") and "Thong bao-1.jpg" in line for line in lines)
    run_import(config, folder, capsys)  # and again: the copy under its own name is found, not made a third time
    assert in_drop_folder(config) == {"Thong bao.jpg", "Thong bao-1.jpg"}


def test_a_settings_file_in_a_subfolder_travels_with_its_notice_under_the_same_new_name(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop_folder(config).mkdir(parents=True)
    (drop_folder(config) / "Thang 11 - hop.txt").write_text("Họp cũ\nĐã xong.", encoding="utf-8")
    folder = stick(tmp_path)
    (folder / "Thang 11").mkdir()
    (folder / "Thang 11" / "hop.txt").write_text("Họp dân\nTối thứ Bảy.", encoding="utf-8")
    (folder / "Thang 11" / "hop.toml").write_text('title = "Họp dân tháng 11"\n', encoding="utf-8")
    run_import(config, folder, capsys)
    assert (drop_folder(config) / "Thang 11 - hop-1.toml").exists()
    assert not (drop_folder(config) / "Thang 11 - hop.toml").exists()
    assert "Họp dân tháng 11" in {playable.bulletin.title for playable in load_content(config)}


def test_an_emergency_prefix_in_a_subfolder_stays_in_front_of_the_name(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stick(tmp_path)
    (folder / "Thang 11").mkdir()
    (folder / "Thang 11" / "KHAN_bao lu.txt").write_text("Báo lũ\nSơ tán ngay.", encoding="utf-8")
    (folder / "Thang 12").mkdir()
    decomposed = unicodedata.normalize("NFD", "KHẨN_bão số 9.txt")  # as a Mac writes names on a stick
    (folder / "Thang 12" / decomposed).write_text("Bão số 9\nGia cố nhà cửa.", encoding="utf-8")
    run_import(config, folder, capsys)
    assert in_drop_folder(config) == {"KHAN_Thang 11 - bao lu.txt", "KHẨN_Thang 12 - bão số 9.txt"}
    assert {playable.bulletin.priority for playable in load_content(config)} == {Priority.EMERGENCY}


def test_the_summary_lists_what_was_taken_set_aside_and_skipped_in_vietnamese_with_a_total(
    config: BoardConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stick(tmp_path)
    (folder / "thong-bao.txt").write_text("Thông báo từ USB\nNội dung.", encoding="utf-8")
    (folder / "hong.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (folder / "khoa.txt").symlink_to(config.path)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / "System Volume Information").mkdir()
    (folder / "System Volume Information" / "IndexerVolumeGuid").write_bytes(b"guid")
    deep = folder.joinpath(*[f"c{level}" for level in range(1, 10)])
    deep.mkdir(parents=True)
    (deep / "sau.txt").write_text("Quá sâu\nKhông nhập.", encoding="utf-8")
    lines = run_import(config, folder, capsys)
    taken = [line for line in lines if line.startswith("đã nhận")]
    aside = [line for line in lines if line.startswith("để riêng")]
    skipped = [line for line in lines if line.startswith("bỏ qua")]
    assert len(taken) == 1 and "thong-bao.txt" in taken[0]
    assert len(aside) == 2
    assert any("hong.jpg" in line and "ảnh bị hỏng" in line for line in aside)
    assert any("khoa.txt" in line and "liên kết" in line for line in aside)
    assert len(skipped) == 4
    assert any(".DS_Store" in line and "tệp ẩn" in line for line in skipped)
    assert any("Thumbs.db" in line for line in skipped)
    assert any("System Volume Information" in line and "hệ thống" in line for line in skipped)
    assert any("c1/c2/c3/c4/c5/c6/c7/c8/c9" in line and "quá sâu" in line for line in skipped)
    assert lines[-1].startswith("Tổng cộng: 1 tệp đã nhận, 2 tệp để riêng, 4 mục bỏ qua")
    assert "Quá sâu" not in {playable.bulletin.title for playable in load_content(config)}
    for line in lines:
        assert "\n" not in line
    assert os.path.islink(folder / "khoa.txt")  # the stick is never written to
