"""The hub's tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL; times are UTC epoch seconds."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 3  # 2: reports keyed by (board, epoch, seq) with their payload's SHA-256; 3: the source system (migrate.py)

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
    # Schema 3: the unit whose boards it is (NULL: the root unit's), when it was accepted, and whether hub.toml names it
    # (those are renamed and re-keyed by the file; the others in the browser).
    sa.Column("unit", Id),
    sa.Column("added_at", Time),
    sa.Column("from_config", sa.Boolean, nullable=False, server_default=sa.false()),
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
    sa.Column("full_name", sa.Text),  # schema 3: shown on pages and in the audit log beside the sign-in name
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


# --- the source system (schema 3): units, people, bulletins, approval, the record ---------------------------------

ROOT_UNIT = "tinh"  # the root unit's id (its name comes from hub.toml's [source] unit_name)

# The province (the root, parent NULL) and its communes. A role held at a unit holds for every unit beneath it.
units = sa.Table(
    "units",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("parent", Id),
    sa.Column("created_at", Time, nullable=False),
)

# Named groups of boards ("chợ", "trường học"), each owned by a unit; it may hold only boards within that unit.
groups = sa.Table(
    "groups",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("unit", Id, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.UniqueConstraint("unit", "name", name="groups_unit_name"),
)

group_boards = sa.Table(
    "group_boards",
    metadata,
    sa.Column("group_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("board", Id, primary_key=True),
)

# A person's role at a unit: editor (biên tập viên), approver (người duyệt), admin (quản trị).
roles = sa.Table(
    "roles",
    metadata,
    sa.Column("officer", sa.String(100), primary_key=True),
    sa.Column("unit", Id, primary_key=True),
    sa.Column("role", sa.String(20), primary_key=True),
)

# A bulletin of the source system: its unit (who owns it) and which revision plays now. Its content is in revisions.
source_bulletins = sa.Table(
    "source_bulletins",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("unit", Id, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("latest", sa.BigInteger, nullable=False),  # the newest revision's number
    sa.Column("live", sa.BigInteger),  # the approved revision in the feeds, NULL when none plays
    sa.Column("title", sa.Text, nullable=False),  # the newest revision's, for lists
    sa.Column("state", sa.String(20), nullable=False),  # the newest revision's, for lists
    sa.Index("source_bulletins_unit_updated", "unit", "updated_at"),
    sa.Index("source_bulletins_live", "live"),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("bulletin", Id, primary_key=True),
    sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    sa.Column("media_sha256", sa.String(64)),
    sa.Column("media_type", sa.String(100)),
    sa.Column("media_bytes", sa.BigInteger),
    sa.Column("media_name", sa.Text),  # the uploaded file's name, for the officer
    sa.Column("duration_s", sa.Double),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("category", sa.String(50), nullable=False),
    sa.Column("valid_from", Time),
    sa.Column("valid_until", Time),
    sa.Column("slots", sa.Text, nullable=False, server_default="[]"),  # JSON: feed-v1's slots
    sa.Column("targets", sa.Text, nullable=False),  # JSON: {"boards": [...], "groups": [...], "units": [...]}
    sa.Column("author", sa.String(100), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("submitted_at", Time),
    sa.Column("decided_by", sa.String(100)),
    sa.Column("decided_at", Time),
    sa.Column("reason", sa.Text),  # a rejection's or withdrawal's reason, which the author sees
    # Who withdrew it and when (the hub itself, "hệ thống", for an expiry): the approver above stays on record.
    sa.Column("ended_by", sa.String(100)),
    sa.Column("ended_at", Time),
    sa.Column("alone", sa.Boolean, nullable=False, server_default=sa.false()),  # an emergency published by one approver
    sa.Index("revisions_state_submitted", "state", "submitted_at"),
)

# The boards each live (approved, in the feeds) bulletin targets, its groups and units resolved when it was approved:
# a unit's feed is read from here (5,000 live bulletins of a province are not decoded for each commune's feed).
live_boards = sa.Table(
    "live_boards",
    metadata,
    sa.Column("bulletin", Id, primary_key=True),
    sa.Column("board", Id, primary_key=True),
    sa.Index("live_boards_board", "board"),
)

# Commands issued from the pages (screenshot, sync, restart, display on/off): the feeds carry them until they expire.
source_commands = sa.Table(
    "source_commands",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("unit", Id, nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("boards", sa.Text, nullable=False),  # JSON list of board ids
    sa.Column("issued_by", sa.String(100), nullable=False),
    sa.Column("issued_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Index("source_commands_expires", "expires_at"),
)

# The record: every action, append-only (the hub never updates or deletes a row of it).
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", Time, nullable=False),
    sa.Column("officer", sa.String(100), nullable=False),
    sa.Column("address", sa.String(100), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("unit", Id),  # whose record it is: an officer sees their units' rows
    sa.Column("subject", sa.Text, nullable=False),  # what it acted on, as the officer would name it
    sa.Column("detail", sa.Text, nullable=False, server_default=""),  # what changed
    sa.Index("audit_at", "at"),
    sa.Index("audit_officer_at", "officer", "at"),
)

# Each unit's published feed: its sequence and when, so the hub republishes before it expires.
feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("unit", Id, primary_key=True),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("published_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)

# Boards that asked to join (POST /join), waiting for an administrator; by their key.
board_requests = sa.Table(
    "board_requests",
    metadata,
    sa.Column("keyid", sa.String(16), primary_key=True),
    sa.Column("board_id", Id, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("public_key", sa.String(100), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("requested_at", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Column("times", sa.BigInteger, nullable=False),
    sa.Index("board_requests_last_seen", "last_seen"),
)
