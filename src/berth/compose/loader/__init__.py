"""Compose file loading: discovery, .env, interpolation, extends/include, merge, validation,
normalisation. `berth.compose.loader.project.load_project` is the entry point."""
