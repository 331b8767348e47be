"""The phone the browser tests hold: a mid-range Android in portrait, touch, Chinese UI."""

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}
