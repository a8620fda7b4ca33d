"""Outputs: a portrait frame turned onto a landscape output, piece by piece, equals the whole turned."""

from __future__ import annotations

import random

import pygame
import pytest

from signage.config import DisplaySection
from signage.render.output import HeadlessOutput, blit_rotated, frame_size, rotate_rect


def noise(size: tuple[int, int], seed: int) -> pygame.Surface:
    rng = random.Random(seed)
    surface = pygame.Surface(size)
    for _ in range(300):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        surface.fill(colour, (x, y, rng.randrange(1, 60), rng.randrange(1, 60)))
    return surface


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_dirty_rects_turned_one_by_one_equal_the_whole_frame_turned(display, rotate: int) -> None:
    frame = noise(frame_size((320, 180), rotate), seed=rotate)
    expected = pygame.transform.rotate(frame, -rotate)
    window = pygame.Surface((340, 200))
    window.fill((0, 0, 0))
    w, h = frame.get_size()
    pieces = [pygame.Rect(0, 0, w, h // 3), pygame.Rect(0, h // 3, w // 2, h - h // 3), pygame.Rect(w // 2, h // 3, w - w // 2, h - h // 3)]
    touched = blit_rotated(window, frame, pieces, rotate, (12, 7))
    region = window.subsurface(pygame.Rect((12, 7), expected.get_size()))
    assert pygame.image.tobytes(region, "RGB") == pygame.image.tobytes(expected, "RGB")
    assert sum(r.width * r.height for r in touched) == w * h
    assert all(window.get_rect().contains(r) for r in touched)


def test_rotate_rect_of_a_ticker_strip() -> None:
    # A 1080x1920 portrait frame on a 1920x1080 output turned clockwise: its bottom strip goes left.
    strip = pygame.Rect(0, 1840, 1080, 80)
    assert rotate_rect(strip, (1080, 1920), 90) == pygame.Rect(0, 0, 80, 1080)
    assert rotate_rect(strip, (1080, 1920), 270) == pygame.Rect(1840, 0, 80, 1080)
    assert rotate_rect(strip, (1080, 1920), 180) == pygame.Rect(0, 0, 1080, 80)


def test_headless_output_frame_size_follows_size_and_rotation() -> None:
    output = HeadlessOutput(DisplaySection(size=(1920, 1080), rotate=90))
    try:
        assert output.frame.get_size() == (1080, 1920)
    finally:
        output.close()
