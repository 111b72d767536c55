"""Where a stream keeps its index: a SQLite file or a Redis server."""
