"""Bridges to other frameworks (see docs/interop.md); each imports its framework only when used."""
