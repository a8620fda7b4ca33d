"""Where the bundled fonts, logo and demo live (the project tree: assets/ and playlists/)."""

from __future__ import annotations

import os
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
