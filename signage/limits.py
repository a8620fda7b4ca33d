"""The bounds every source of content shares: numbers, the size of a notice, and a time budget for decoding.

A feed, a playlist, the drop folder and a USB stick all end in the same bulletin and the same
composer, so one set of numbers holds for all of them (docs/security.md explains each). Pure: the
budget reads the clock it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from signage.errors import OverLimit

# The largest integer a JSON number carries exactly in every language (RFC 7493, I-JSON), and far
# inside SQLite's 64-bit INTEGER: the ceiling of every revision, sequence and byte count we accept.
MAX_SAFE_INTEGER = 2**53 - 1

# A body is a notice, not a book. A passer-by reads a board at about 12 characters a second (the
# engine's TEXT_CHARS_PER_SECOND), so a default turn of at most 120 s reads some 1,400 characters,
# and even a turn set by hand rarely runs past a few minutes. The longest real notices (a decision
# with its articles, a list of households) run to 5,000-10,000 characters; 20,000 is twice that,
# about 28 minutes of reading: more than any turn can show, and little enough to set in a blink.
MAX_BODY_CHARS = 20_000
# A list notice has one short line per household; 2,000 lines of 10 characters is the character cap
# again. Past it, lines are the cost, not characters: each is measured and drawn on its own.
MAX_BODY_LINES = 2_000
# Line breaks are not counted as characters, but a body of nothing else is still bounded: every line
# may have a blank line after it, as Word's paragraphs do once joined.
MAX_BODY_LENGTH = MAX_BODY_CHARS + 2 * MAX_BODY_LINES
# The title heads every page and runs in the ticker: a long sentence at most (three lines on a page).
MAX_TITLE_CHARS = 500

# Reading one file (a Word document, and the office converters to come) takes milliseconds for a
# real notice; a board far slower than a desktop still takes well under a second. Five seconds is
# the most a decode may hold the drop folder's job or a composer before it is abandoned.
DECODE_SECONDS = 5.0


def parse_problem(exc: ValueError) -> str:
    """A parser's ValueError (tomllib, json) as one line for an error message.

    Python refuses to convert an integer of over 4,300 digits with a ValueError whose text is advice
    for programmers; tomllib lets it through as it is. It becomes plain words here.
    """
    text = str(exc)
    if "integer string conversion" in text:
        return "a number of more than 4300 digits"
    return (text.splitlines() or [type(exc).__name__])[0]


def too_long(title: str, body: str) -> str | None:
    """What makes a notice too long for a board, as one phrase naming the part and the limit; None when it fits."""
    if len(title) > MAX_TITLE_CHARS:
        return f"title of {len(title)} characters is over {MAX_TITLE_CHARS} characters"
    characters = text_chars(body)
    if characters > MAX_BODY_CHARS:
        return f"body of {characters} characters is over {MAX_BODY_CHARS} characters"
    if len(body) > MAX_BODY_LENGTH:
        return f"body of {len(body)} characters with its line breaks is over {MAX_BODY_LENGTH} characters"
    lines = body_lines(body)
    if lines > MAX_BODY_LINES:
        return f"body of {lines} lines is over {MAX_BODY_LINES} lines"
    return None


def text_chars(text: str) -> int:
    """The characters of a text, its line breaks aside (they are spacing: the typesetter folds runs of them)."""
    return len(text) - text.count("\n")


def body_lines(body: str) -> int:
    """The lines of a body that hold text (blank lines between paragraphs are spacing, not content)."""
    return sum(1 for line in body.split("\n") if line.strip())


@dataclass(slots=True)
class Budget:
    """A wall-clock budget for one decode or typesetting, started when made; `check` raises once it is spent.

    The clock is passed in (monotonic seconds), so a test can make a second pass at every look.
    """

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def spent(self) -> bool:
        return self.clock() - self.started > self.seconds

    def check(self, origin: str, what: str) -> None:
        """Raise `OverLimit` naming `origin` once the budget is spent; `what` says what was being done."""
        if self.spent():
            raise OverLimit(f"{origin}: {what} took longer than {self.seconds:g} s; abandoned")
