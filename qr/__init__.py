"""Checkpoint QR labels: payload signing (``qr.signing``) and printable sheets (``qr.sheets``).

``qr.signing`` is pure standard library; ``qr.sheets`` needs Pillow, qrcode and a CJK font.
"""
