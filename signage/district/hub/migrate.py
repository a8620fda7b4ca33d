"""Upgrades of a hub database made by an earlier schema, in place, each in one transaction, on SQLite and PostgreSQL.

The tables missing from an older database are made first (`create_all`); what changes in a table that
exists is done here. Two hub processes that start together on one PostgreSQL database upgrade it once:
the upgrade takes the settings table's lock and reads the version again under it.
"""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from signage.district.hub import schema as t

log = logging.getLogger(__name__)

EPOCHS_FROM = "epochs_from"  # settings: when reports started to be keyed by epoch (UTC seconds), for reports signed before


def upgrade(engine: Engine, now: float) -> None:
    """Bring the database to t.SCHEMA_VERSION, if it is older (an unknown or newer version is the caller's error)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL and all in one transaction, other writers held off
        else:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE settings IN ACCESS EXCLUSIVE MODE")
        try:
            version = conn.execute(sa.select(t.settings.c.value).where(t.settings.c.key == "schema_version")).scalar_one()
            if version == "1":
                _reports_by_epoch(conn, now)
                version = "2"
            if version == "2":
                _source_system(conn)
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise


def _reports_by_epoch(conn: Any, now: float) -> None:
    """1 → 2: reports and merged totals keyed by (board, epoch, seq), every report held so far in the empty epoch;
    the payload's hash kept (none for those); the board's newest epoch; floors of pruned seqs per epoch."""
    started = monotonic()
    held = conn.execute(sa.select(sa.func.count()).select_from(t.reports)).scalar_one()
    log.warning("upgrading the hub's database to schema 2 (reports keyed by epoch): %d reports held", held)
    blob = t.Sha256.compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        # SQLite cannot change a primary key: the table is made again under the new one and its rows copied.
        for table in (t.reports, t.play_totals):
            _remake(conn, table, {"epoch": "''", "sha256": "NULL"})
    else:
        for table, has_hash in ((t.reports, True), (t.play_totals, False)):
            key = conn.exec_driver_sql(
                "SELECT conname FROM pg_constraint WHERE conrelid = %(table)s::regclass AND contype = 'p'", {"table": table.name}
            ).scalar_one()
            columns = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
            conn.exec_driver_sql(
                f"ALTER TABLE {table.name} ADD COLUMN epoch VARCHAR(16) NOT NULL DEFAULT ''"
                + (f", ADD COLUMN sha256 {blob}" if has_hash else "")
                + f", DROP CONSTRAINT {key}, ADD CONSTRAINT {table.name}_pkey PRIMARY KEY ({columns})"
            )
    conn.exec_driver_sql("ALTER TABLE board_state ADD COLUMN last_epoch VARCHAR(16) NOT NULL DEFAULT ''")
    conn.exec_driver_sql(f"ALTER TABLE screenshots ADD COLUMN sha256 {blob}")
    f, b = t.report_floors, t.board_floors
    conn.execute(
        sa.insert(f).from_select(["board", "epoch", "seq"], sa.select(b.c.board, sa.literal(""), b.c.report_seq).where(b.c.report_seq > 0))
    )
    conn.execute(sa.update(t.settings).where(t.settings.c.key == "schema_version").values(value="2"))
    conn.execute(sa.insert(t.settings), {"key": EPOCHS_FROM, "value": repr(now)})
    log.warning("the hub's database is at schema 2 (%.1f s)", monotonic() - started)


def _source_system(conn: Any) -> None:
    """2 → 3: the source system. Its tables are new (made by create_all); boards gain their unit, when they were
    accepted and whether hub.toml names them (every board so far came from it); officers gain a full name."""
    false = "0" if conn.dialect.name == "sqlite" else "FALSE"
    conn.exec_driver_sql("ALTER TABLE boards ADD COLUMN unit VARCHAR(200)")
    conn.exec_driver_sql(f"ALTER TABLE boards ADD COLUMN added_at {t.Time().compile(dialect=conn.dialect)}")
    conn.exec_driver_sql(f"ALTER TABLE boards ADD COLUMN from_config BOOLEAN NOT NULL DEFAULT {false}")
    conn.exec_driver_sql("UPDATE boards SET from_config = " + ("1" if conn.dialect.name == "sqlite" else "TRUE"))
    conn.exec_driver_sql("ALTER TABLE users ADD COLUMN full_name TEXT")
    # Every officer so far saw and did everything the hub offered: each administers the root unit (the province).
    officers = conn.execute(sa.select(t.users.c.name)).scalars().all()
    if officers:
        conn.execute(sa.insert(t.roles), [{"officer": name, "unit": t.ROOT_UNIT, "role": "admin"} for name in officers])
    conn.execute(sa.update(t.settings).where(t.settings.c.key == "schema_version").values(value="3"))
    log.warning("the hub's database is at schema 3 (the source system)")


def _remake(conn: Any, table: sa.Table, new_columns: dict[str, str]) -> None:
    """SQLite: `table` made again as the schema now says, its rows copied (`new_columns`: SQL for the columns it lacked)."""
    draft = table.to_metadata(sa.MetaData(), name=f"{table.name}_next")
    conn.execute(sa.schema.CreateTable(draft))
    names = [column.name for column in table.columns]
    values = [new_columns.get(name, f'"{name}"') for name in names]
    conn.exec_driver_sql(f"INSERT INTO {draft.name} ({', '.join(names)}) SELECT {', '.join(values)} FROM {table.name}")
    conn.exec_driver_sql(f"DROP TABLE {table.name}")  # its indexes with it
    conn.exec_driver_sql(f"ALTER TABLE {draft.name} RENAME TO {table.name}")
    for index in table.indexes:
        index.create(conn)
