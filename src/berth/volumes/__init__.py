"""Volumes: the `local` driver (named and anonymous volumes under
<data-root>/volumes/<name>/_data) and the copy of image content into them."""
