"""The hub's tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL; times are UTC epoch seconds."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 2  # 2: reports keyed by (board, epoch, seq) with their payload's SHA-256 (migrate.py upgrades a database of 1)

metadata = sa.MetaData()

Time = sa.Double  # UTC seconds since the epoch: portable, sortable, cheap
Day = sa.String(10)  # YYYY-MM-DD in the hub's (or, for merged totals, the board's) local time
Id = sa.String(200)
# A board's report queue's random id (16 hex digits), "" for reports of boards from before epochs: a board whose
# database was lost numbers from 1 again in a new epoch, so (board, epoch, seq) names one report for ever.
Epoch = sa.String(16)
Sha256 = sa.LargeBinary(32)

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
    sa.Column("epoch", Epoch, primary_key=True, server_default=""),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("sent_at", Time, nullable=False),
    # Not the body (its plays and status are in their own tables, and storing it again doubled the writes), but its
    # hash: the same (board, epoch, seq) sent again is a retry when it matches, a collision when it does not.
    # NULL for the reports a hub before schema 2 stored.
    sa.Column("sha256", Sha256),
)

board_state = sa.Table(
    "board_state",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("last_seen", Time, nullable=False),  # when the hub last heard from it (hub clock)
    # The newest report's epoch and seq: within an epoch the higher seq is the newer, across epochs the later sent_at.
    sa.Column("last_epoch", Epoch, nullable=False, server_default=""),
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
    sa.Column("screenshot_seq", sa.BigInteger),  # the newest screenshot held (by its signed taken_at)
    sa.Column("screenshot_at", Time),  # and its taken_at: the latest the hub ever held, never lowered
)

plays = sa.Table(
    "plays",
    metadata,
    # A plain row id, not (board, epoch, seq, idx): the reports table already holds each report once, and a
    # composite key would be one more B-tree to update for each of the 15 plays of every report. `seq` orders a
    # report's plays in the export, nothing more.
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
    sa.Column("epoch", Epoch, primary_key=True, server_default=""),
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
    sa.Column("sha256", Sha256),  # of the PNG: the same seq sent again is told from another picture (NULL before schema 2)
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

# Per board, the highest seq of its screenshots the hub pruned: one at or below it, and taken no later than the
# newest the hub ever held (board_state.screenshot_at), is a replay, never stored again (the rows that said so are
# gone). `report_seq` was the reports' floor before schema 2, when seqs had no epoch: now in report_floors (epoch "").
board_floors = sa.Table(
    "board_floors",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("report_seq", sa.BigInteger, nullable=False),
    sa.Column("screenshot_seq", sa.BigInteger, nullable=False),
)

# Per board and epoch, the highest seq of its reports the hub pruned: a report at or below it in that epoch is a
# replay of one already counted. Per epoch: a board's new life (seqs from 1 again) is not below its old one's floor.
report_floors = sa.Table(
    "report_floors",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("epoch", Epoch, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

# Rows a board added (plays, totals, commands) per day of the hub's: its daily quota. Kept a few days.
board_day_rows = sa.Table(
    "board_day_rows",
    metadata,
    sa.Column("board", Id, primary_key=True),
    sa.Column("day", Day, primary_key=True),
    sa.Column("rows_added", sa.BigInteger, nullable=False),
)
