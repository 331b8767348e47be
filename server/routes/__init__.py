"""Litestar controllers, one module per resource. Thin: parse, authorise, call a domain function."""
