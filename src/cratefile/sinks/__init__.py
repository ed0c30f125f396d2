"""Sinks: where built files go after the library is made (Eagle import, M3U8, Rekordbox XML).

Each sink is a small module taking plain data; the build wires them in.
"""
