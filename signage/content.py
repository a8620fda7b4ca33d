"""Everything a board could play, gathered from its sources: the held feed, the drop folder, local playlists."""

from __future__ import annotations

import logging

from signage.config import BoardConfig
from signage.errors import StoreError
from signage.model import Playable
from signage.playlist import load_playlists

log = logging.getLogger(__name__)


def load_content(config: BoardConfig) -> list[Playable]:
    """Feed bulletins whose media is verified, the drop folder's, then playlist bulletins (an id already taken is skipped)."""
    playables: list[Playable] = []
    if config.feed is not None or config.inbox is not None:
        from signage.feed.sync import feed_playables, open_store
        from signage.inbox.ingest import inbox_playables

        try:
            store, files = open_store(config)
            try:
                playables += feed_playables(store, files) if config.feed is not None else []
                playables += inbox_playables(store, files) if config.inbox is not None else []
            finally:
                store.close()
        except StoreError as exc:
            if not exc.repeat:  # a full disk is told once, by whichever job meets it first
                log.error("%s", exc)
    taken = {p.bulletin.id for p in playables}
    for playable in load_playlists(config.playlists).playables:
        if playable.bulletin.id in taken:
            log.warning(
                "%s: bulletin %r: the feed holds this id; the playlist's is skipped",
                playable.media_path or "playlist",
                playable.bulletin.id,
            )
            continue
        playables.append(playable)
    return playables
