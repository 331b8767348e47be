"""Piccolo tables, one module per aggregate. Registered in ``server/piccolo_app.py``."""
