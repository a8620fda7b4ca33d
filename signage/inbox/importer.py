"""`signage import PATH`: files from a folder (a USB stick's BANGTIN/) copied into the drop folder and taken at once."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from pathlib import Path

from signage.config import BoardConfig
from signage.errors import SignageError
from signage.inbox.ingest import Inbox
from signage.inbox.rules import ignored
from signage.store.db import Store
from signage.store.files import ContentStore, fsync_dir


def import_folder(config: BoardConfig, source: Path) -> list[str]:
    """Copy every file under `source` into the drop folder (atomically: a hidden name, then a rename), then take them.

    The copies are complete, so nothing waits to hold still: a file that will not decode is set aside at once.
    """
    if config.inbox is None:
        raise SignageError(f"{config.path}: no [inbox] section: nowhere to import into")
    if not source.is_dir():
        raise SignageError(f"{source}: not a folder")
    inbox = config.inbox.path
    inbox.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.rglob("*")):
        if not path.is_file() or (ignored(path.name) and not path.name.endswith(".toml")):
            continue
        temporary = inbox / f".{path.name}.part"
        try:
            with path.open("rb") as reader, temporary.open("wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(temporary, inbox / path.name)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise SignageError(f"{path}: cannot copy into {inbox}: {exc.strerror}") from None
        copied.append(path.name)
    fsync_dir(inbox)
    store = Store(config.board.data_dir / "board.db")
    try:
        taker = Inbox(config, ContentStore(config.board.data_dir / "media"), lambda: datetime.now(config.board.timezone))
        changes = taker.poll(store, time.monotonic(), settle=0, patience=0)
    finally:
        store.close()
    return [f"copied {len(copied)} file(s) from {source} into {inbox}", *changes]
