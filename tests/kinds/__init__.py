"""Toy kinds for tests: what a contributor writes to add a source or a sink."""
