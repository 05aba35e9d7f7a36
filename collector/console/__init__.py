"""The web console: the page at /costs and its static files (own HTML, CSS and JS; no build step)."""
