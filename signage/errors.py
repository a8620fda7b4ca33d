"""The one exception tree of signage.

    SignageError                 every refusal or failure the CLI turns into exit 1
    ├── ConfigError              the board's config file: unknown key, bad value
    ├── BulletinError            a bulletin or playlist entry: missing or bad field
    ├── FeedRejected             a district feed refused: signature, rollback, expiry, shape
    ├── FetchError               the network: unreachable, timeout, bad HTTP answer
    ├── MediaError               a media file: unsupported, corrupt, over a limit
    │   ├── OverLimit            a notice too long for a board, a package too big, a decode too slow
    │   └── NeedsPages           the file should be shown as its pages (converted to PDF)
    ├── StoreError               the local cache and its database
    │   ├── StoreDamaged         the board's database is damaged (moved aside and rebuilt)
    │   └── DiskFull             no room left on the board's disk to write
    ├── DisplayError             no screen to draw on, or the video driver refused
    └── DeskError                the source system refused an officer's action (the message is Vietnamese)
        ├── NotAllowed           their roles do not allow it (four eyes, another commune's)
        ├── NotFound             no such bulletin, board, group or unit that they may see
        └── Conflict             someone else acted first (two approvers at once), or a name is taken

Every message is one line naming the file or URL and the problem.
"""

from __future__ import annotations


class SignageError(Exception):
    """Base of every error signage raises on purpose."""

    repeat = False  # the same condition was already told in this process (a full disk): log it once, not per poll


class ConfigError(SignageError):
    """The board's config is invalid."""


class BulletinError(SignageError):
    """A bulletin (from a feed, a playlist or the inbox) is invalid."""


class FeedRejected(SignageError):
    """A district feed was refused."""


class FetchError(SignageError):
    """A network fetch failed."""


class MediaError(SignageError):
    """A media file cannot be shown."""


class OverLimit(MediaError):
    """A file that may be sound but is more than a board takes (signage/limits.py, signage/media/package.py)."""


class NeedsPages(MediaError):
    """The file should be shown as its pages (converted to PDF): its tables or pictures do not fit a text slide.

    `title`: the notice's own title when the reader found one (Thông báo về việc …), for the pages' bulletin."""

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.title = title


class StoreError(SignageError):
    """The local store failed."""


class StoreDamaged(StoreError):
    """The board's database is damaged: malformed, not a database, or it failed its check."""


class DiskFull(StoreError):
    """No room left to write; `first` is True for the first such error since the disk last had room."""

    def __init__(self, message: str, *, first: bool = True) -> None:
        super().__init__(message)
        self.first = first
        self.repeat = not first


class DisplayError(SignageError):
    """No display is available or it could not be opened."""


class DeskError(SignageError):
    """The source system refused an officer's action; the message is Vietnamese, for the page."""


class NotAllowed(DeskError):
    """The officer's roles do not allow it."""


class NotFound(DeskError):
    """Nothing the officer may see has that id (another commune's answers the same as none)."""


class Conflict(DeskError):
    """Someone else acted first, or a name is taken."""
