"""Phone and camera video and sound (issue 16): made here with the ffmpeg CLI and PyAV, probed, decoded and shown upright."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import av
import pytest

from signage.errors import MediaError
from signage.inbox.rules import kind_of
from signage.media.probe import judge, probe
from signage.media.video import VideoClip
from signage.model import Kind

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg CLI makes the clips")

SOURCE = "testsrc2=s=320x240:r=25:d=1"
TONE = "sine=f=440:d=1.5"


def ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments], check=True, timeout=120)


def encoders() -> str:
    return subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=True, timeout=30).stdout


VIDEOS = {
    "IMG_0412.MOV": ("-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error"),  # an iPhone's HEVC
    "MVI_0031.avi": ("-c:v", "mpeg4", "-vtag", "XVID"),
    "clip.wmv": ("-c:v", "wmv2"),
    "le hoi.mpg": ("-c:v", "mpeg2video"),
    "VID_20090315.3gp": ("-c:v", "h263", "-s", "176x144", "-c:a", "aac"),
}


@pytest.mark.parametrize("name", VIDEOS)
def test_a_phone_or_camera_video_is_probed_as_a_video_and_its_frames_decode(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ffmpeg("-f", "lavfi", "-i", SOURCE, "-f", "lavfi", "-i", TONE, "-shortest", *VIDEOS[name], str(path))
    kind, media_type = kind_of(name) or (None, None)
    assert kind is Kind.VIDEO and media_type is not None

    found = probe(path, media_type)
    assert judge(path) == found
    assert found.width and found.height and found.seconds and 0.5 < found.seconds < 2.0

    clip = VideoClip(path, (640, 480))
    try:
        frames = 1 + sum(1 for _ in iter(clip.next_frame, None))
    finally:
        clip.close()
    assert frames >= 20


SOUNDS = {
    "ghi am.wav": ("-c:a", "pcm_s16le"),
    "AUD-20261125-WA0003.aac": ("-c:a", "aac", "-f", "adts"),
    "PTT-20261125-WA0001.opus": ("-c:a", "libopus"),
    "hop dan.flac": ("-c:a", "flac"),
    "thong bao.wma": ("-c:a", "wmav2"),
    "Recording_20261125.m4a": ("-c:a", "aac", "-brand", "mp42"),  # Android's recorder: an MP4 brand, no picture
}


@pytest.mark.parametrize("name", SOUNDS)
def test_a_recording_in_any_phone_format_is_probed_as_audio(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    ffmpeg("-f", "lavfi", "-i", TONE, *SOUNDS[name], str(path))
    kind, media_type = kind_of(name) or (None, None)
    assert kind is Kind.AUDIO and media_type is not None

    found = probe(path, media_type)
    assert judge(path) == found
    assert found.seconds and 1.0 < found.seconds < 2.0 and found.width is None


def test_an_amr_voice_note_is_audio(tmp_path: Path) -> None:
    if "libopencore_amrnb" not in encoders():
        pytest.skip("this ffmpeg has no AMR encoder")
    path = tmp_path / "voice.amr"
    ffmpeg("-f", "lavfi", "-i", TONE, "-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", str(path))
    assert probe(path, "audio/mp4").seconds


def test_an_android_voice_recording_in_an_mp4_box_is_audio_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "Voice 001.m4a"
    ffmpeg("-f", "lavfi", "-i", TONE, "-c:a", "aac", "-brand", "isom", str(path))
    assert path.read_bytes()[4:12] == b"ftypisom"  # the bytes look like an MP4 video

    assert judge(path).media_type == "audio/mp4"
    assert probe(path, "audio/mp4").seconds
    with pytest.raises(MediaError, match="no decodable video stream"):
        probe(path, "video/mp4")


def test_an_mp4_with_a_picture_is_a_video_even_when_named_m4a(tmp_path: Path) -> None:
    path = tmp_path / "bai hat.m4a"
    ffmpeg("-f", "lavfi", "-i", SOURCE, "-c:v", "libx264", "-f", "mp4", str(path))
    assert judge(path).media_type == "video/mp4"
    with pytest.raises(MediaError, match="picture"):
        probe(path, "audio/mp4")


def test_a_video_in_a_codec_the_board_cannot_decode_is_refused_naming_the_codec(tmp_path: Path) -> None:
    path = tmp_path / "camera.avi"
    ffmpeg("-f", "lavfi", "-i", SOURCE, "-c:v", "mpeg4", "-vtag", "XVID", str(path))
    data = path.read_bytes()
    path.write_bytes(data.replace(b"XVID", b"ZZ9Q").replace(b"xvid", b"ZZ9Q"))  # a fourcc no decoder knows

    with pytest.raises(MediaError, match="decod"):
        probe(path, "video/mp4")


def test_tags_give_a_recording_and_a_video_their_titles(tmp_path: Path) -> None:
    sound = tmp_path / "REC_20261125_081530.m4a"
    ffmpeg("-f", "lavfi", "-i", TONE, "-c:a", "aac", "-metadata", "title=Thông báo  họp dân\ttổ 3", str(sound))
    video = tmp_path / "VID_20261125_081530.mp4"
    ffmpeg("-f", "lavfi", "-i", SOURCE, "-c:v", "libx264", "-metadata", "title=Lễ hội làng", str(video))
    untagged = tmp_path / "REC_1.wav"
    ffmpeg("-f", "lavfi", "-i", TONE, str(untagged))

    assert probe(sound, "audio/mp4").title == "Thông báo họp dân tổ 3"
    assert probe(video, "video/mp4").title == "Lễ hội làng"
    assert probe(untagged, "audio/mp4").title is None


def _portrait_clip(path: Path, degrees: int, bar_x: int) -> None:
    """A 320x176 landscape recording with a red bar on one side, and a display matrix turning it `degrees` (counter-clockwise)."""
    source = av.open(f"color=c=blue:s=320x176:r=25:d=1,drawbox=x={bar_x}:y=0:w=30:h=176:color=red:t=fill", format="lavfi")
    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 320, 176, "yuv420p"
    stream.set_display_rotation(degrees)
    for frame in source.decode(video=0):
        frame.pts = None
        for packet in stream.encode(frame.reformat(format="yuv420p")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    source.close()


def _pixel(clip: VideoClip, x: int, y: int) -> tuple[int, int, int]:
    offset = (y * clip.size[0] + x) * 4
    blue, green, red = clip.first[1][offset : offset + 3]
    return red, green, blue


@pytest.mark.parametrize(("degrees", "bar_x"), [(90, 290), (-90, 0)])
def test_a_portrait_phone_video_is_shown_upright(tmp_path: Path, degrees: int, bar_x: int) -> None:
    path = tmp_path / "VID_portrait.mp4"
    _portrait_clip(path, degrees, bar_x)  # the bar is on the side that is the top once turned

    found = probe(path, "video/mp4")
    assert (found.width, found.height) == (176, 320)
    clip = VideoClip(path, (1920, 1080))
    try:
        width, height = clip.size
        assert height > width  # fitted as the tall picture it is
        top, bottom = _pixel(clip, width // 2, 5), _pixel(clip, width // 2, height - 5)
        assert top[0] > 180 and top[2] < 80, top  # red at the top
        assert bottom[2] > 150 and bottom[0] < 80, bottom  # blue below
        frames = 1 + sum(1 for _ in iter(clip.next_frame, None))
    finally:
        clip.close()
    assert frames >= 20


def _combing(clip: VideoClip, pixels: bytes | bytearray) -> float:
    """Mean difference of each row from the mean of its neighbours (green channel): high where fields disagree."""
    width, height = clip.size
    row = width * 4
    total = count = 0
    for y in range(1, height - 1, 2):
        for x in range(0, width, 4):
            at = y * row + x * 4 + 1
            total += abs(pixels[at] - (pixels[at - row] + pixels[at + row]) // 2)
            count += 1
    return total / count


def test_an_interlaced_clip_is_deinterlaced_and_shows_no_combing(tmp_path: Path) -> None:
    path = tmp_path / "1080i.mpg"
    # 50 pictures a second of fast motion woven into 25 interlaced frames, as a camcorder records 1080i.
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=50:d=1", "-vf", "tinterlace=interleave_top,setfield=tff",
        "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1", "-b:v", "12M", str(path),
    )  # fmt: skip
    woven = tmp_path / "woven.mpg"  # the same frames marked progressive: what the board showed before
    ffmpeg("-i", str(path), "-vf", "setfield=prog", "-c:v", "mpeg2video", "-b:v", "12M", str(woven))

    clip = VideoClip(path, (1920, 1080))
    plain = VideoClip(woven, (1920, 1080))
    try:
        assert clip.interlaced and not plain.interlaced
        for _ in range(5):  # into the moving part of the clip
            shown, before = clip.next_frame(), plain.next_frame()
        assert shown is not None and before is not None
        assert _combing(clip, shown[1]) < 0.5 * _combing(plain, before[1])
    finally:
        clip.close()
        plain.close()
