"""`berth compose`: docker compose v2 rebuilt as a client of the Engine API.

`loader/` turns compose files into a normalised `Project` (pure Python, no I/O
beyond reading files); `convergence.py` and `cli/` drive the engine.
"""
