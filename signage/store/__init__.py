"""The board's local store: SQLite state (WAL, versioned schema) and content-addressed files."""
