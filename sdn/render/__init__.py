"""Presentation: tables and pictures of the state for people (no I/O beyond returning
strings and rich renderables; the CLI prints them)."""
