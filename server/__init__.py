"""Chatter server: configuration, app factory, database, Redis, auth and the HTTP pipeline."""
