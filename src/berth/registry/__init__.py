"""`berth registry serve`: an OCI Distribution / Docker Registry HTTP API V2 server.

A standalone aiohttp application with its own filesystem storage, auth and
garbage collector. It imports nothing from the daemon: a registry host does not
need berthd, and the daemon's pull/push client (`berth.distribution`) must work
with any registry, so the two sides share only the wire protocol.
"""
