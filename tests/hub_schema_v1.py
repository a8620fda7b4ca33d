"""The hub's tables as schema version 1 made them (frozen at commit 573fb6d): a database from before report epochs."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 1

metadata = sa.MetaData()

Time = sa.Double  # UTC seconds since the epoch: portable, sortable, cheap
Day = sa.String(10)  # YYYY-MM-DD in the hub's (or, for merged totals, the board's) local time
Id = sa.String(200)

boards = sa.Table(
    "boards",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("public_key", sa.String(100), nullable=False),
    sa.Column("keyid", sa.String(16), nullable=False),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("sent_at", Time, nullable=False),
    # Not the body: its plays and status are in their own tables, and storing it again doubled the writes.
)

board_state = sa.Table(
    "board_state",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("last_seen", Time, nullable=False),  # when the hub last heard from it (hub clock)
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("sent_at", Time),
    sa.Column("status", sa.Text),  # the newest status object, JSON
    sa.Column("version", sa.String(100)),
    sa.Column("feed_sequence", sa.BigInteger),
    sa.Column("feed_stale", sa.Boolean),
    sa.Column("now_playing", Id),
    sa.Column("last_error", sa.Text),
    sa.Column("disk_free", sa.BigInteger),
    sa.Column("display_on", sa.Boolean),
    sa.Column("clock_behind_trusted", sa.Boolean),
    sa.Column("heartbeat_s", sa.Double),
    sa.Column("screenshot_seq", sa.BigInteger),  # the newest screenshot held
    sa.Column("screenshot_at", Time),
)

plays = sa.Table(
    "plays",
    metadata,
    # A plain row id, not (board, seq, idx): the reports table already holds each (board, seq) once, and a
    # composite key would be one more B-tree to update for each of the 15 plays of every report.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("board", Id, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),  # its place in the report's list
    sa.Column("bulletin", Id, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("started_at", Time, nullable=False),
    sa.Column("day", Day, nullable=False),
    sa.Column("shown_s", sa.Double, nullable=False),
    sa.Column("completed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(200)),
    sa.Index("plays_started", "started_at"),
    sa.Index("plays_board_started", "board", "started_at"),
)

play_totals = sa.Table(
    "play_totals",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("bulletin", Id, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("day", Day, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("completed", sa.BigInteger, nullable=False),
    sa.Column("shown_s", sa.Double, nullable=False),
    sa.Index("play_totals_day", "day"),
)

play_days = sa.Table(
    "play_days",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("bulletin", Id, primary_key=True),
    sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("day", Day, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("completed", sa.BigInteger, nullable=False),
    sa.Column("shown_s", sa.Double, nullable=False),
    sa.Index("play_days_day", "day"),
)

board_days = sa.Table(
    "board_days",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("day", Day, primary_key=True),
    sa.Column("heartbeats", sa.BigInteger, nullable=False),
    sa.Column("plays", sa.BigInteger, nullable=False),
    sa.Index("board_days_day", "day"),
)

commands_done = sa.Table(
    "commands_done",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("id", Id, primary_key=True),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("at", Time),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("detail", sa.Text),
)

screenshots = sa.Table(
    "screenshots",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("taken_at", Time, nullable=False),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("command", Id),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("png", sa.LargeBinary, nullable=False),
    sa.Column("thumb", sa.LargeBinary, nullable=False),  # a small PNG for the dashboard's table
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

# Officers' sessions live here, not in a signed cookie: sign-out, a new password or a removed officer ends them,
# and several hub processes on one PostgreSQL share them. The cookie holds a random token; this, its SHA-256.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("officer", sa.String(100), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Index("sessions_officer", "officer"),
)

# Wrong passwords, one row per throttle key (a hashed name, an address) and failure; pruned by age, never by count.
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Index("sign_in_failures_key", "key", "at"),
    sa.Index("sign_in_failures_at", "at"),
)

# Addresses an officer signed in from: from there, only that address's own failures hold the sign-in.
sign_in_known = sa.Table(
    "sign_in_known",
    metadata,
    sa.Column("name_key", sa.String(100), primary_key=True),
    sa.Column("address_key", sa.String(100), primary_key=True),
    sa.Column("at", Time, nullable=False),
    sa.Index("sign_in_known_at", "at"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# --- the boards' limits (ingest) ---------------------------------------------------------------------

# Per board, the highest seq of its reports and of its screenshots the hub pruned: a report or screenshot at or
# below it is a replay of something already counted, never stored again (the rows that said so are gone).
board_floors = sa.Table(
    "board_floors",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("report_seq", sa.BigInteger, nullable=False),
    sa.Column("screenshot_seq", sa.BigInteger, nullable=False),
)

# Rows a board added (plays, totals, commands) per day of the hub's: its daily quota. Kept a few days.
board_day_rows = sa.Table(
    "board_day_rows",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("day", Day, primary_key=True),
    sa.Column("rows_added", sa.BigInteger, nullable=False),
)
