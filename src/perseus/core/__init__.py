"""Shared foundations: errors, units, paths."""
