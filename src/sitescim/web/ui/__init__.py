"""The server-rendered web UI: Jinja2 pages that work without JavaScript."""
