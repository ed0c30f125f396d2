"""Catalogs: the record of every track. SQLite is the default and always on; Notion mirrors it."""
