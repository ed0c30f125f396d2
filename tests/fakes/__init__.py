"""Fake servers on 127.0.0.1 that stand in for the services cratefile talks to."""
