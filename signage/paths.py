"""Where the bundled fonts, logo and demo live (the project tree: assets/ and playlists/)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

# signage/ sits beside assets/ and playlists/ in the project tree, which the kiosk
# installer keeps whole; SIGNAGE_HOME points elsewhere when the tree was moved.
PROJECT_ROOT = Path(os.environ.get("SIGNAGE_HOME") or Path(__file__).resolve().parent.parent)
ASSETS = PROJECT_ROOT / "assets"
FONT_REGULAR = ASSETS / "fonts" / "NotoSans-Regular.ttf"
FONT_BOLD = ASSETS / "fonts" / "NotoSans-Bold.ttf"
LOGO = ASSETS / "logo.png"
DEMO_CONFIG = PROJECT_ROOT / "playlists" / "demo-board.toml"
DEMO_PLAYLIST = PROJECT_ROOT / "playlists" / "demo.toml"


def invocation() -> str:
    """How this program was started, to repeat in a hint: `.venv/bin/signage` from a fresh clone, whose
    bare name is not on the PATH; `python3 -m signage` when run as a module."""
    program = sys.argv[0] if sys.argv else ""
    if not program or program.endswith("__main__.py"):
        return "python3 -m signage"
    if os.sep in program and Path(program).name == "signage":
        return shlex.quote(os.path.relpath(program) if not os.path.isabs(program) else program)
    return "signage"
