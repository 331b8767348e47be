"""Xunjian (巡检): offline-first field inspection for property management."""
