"""Deployment settings, read from the environment once and passed to ``create_app``.

Every field is documented in the README's settings table; ``tests/test_settings_doc.py`` keeps the two
in step. Nothing here is read at import time, so tests can build as many apps as they like.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    help: str


# The single source of truth for names, defaults and help text (the README table is checked against it).
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "XUNJIAN_DATABASE_URL",
        "sqlite:///<data dir>/xunjian.sqlite3",
        "Database. `sqlite:///path/file.sqlite3` or `postgres://user:pass@host:5432/db`.",
    ),
    Setting(
        "XUNJIAN_DATA_DIR",
        "./data",
        "Directory for the SQLite file, photos and the generated secret key.",
    ),
    Setting(
        "XUNJIAN_SECRET_KEY",
        "generated into <data dir>/secret_key",
        "Signs QR labels. Keep it stable: changing it invalidates every printed label.",
    ),
    Setting(
        "XUNJIAN_BASE_URL",
        "http://<host>:<port>",
        "Public URL of the server as phones reach it; printed into QR labels.",
    ),
    Setting("XUNJIAN_HOST", "0.0.0.0", "Address `xunjian serve` listens on."),
    Setting("XUNJIAN_PORT", "8000", "Port `xunjian serve` listens on."),
    Setting(
        "XUNJIAN_TIMEZONE",
        "Asia/Shanghai",
        "Default time zone for new sites (working days, SLA clocks, daily rounds).",
    ),
    Setting(
        "XUNJIAN_SESSION_DAYS",
        "30",
        "How long a login lasts on a phone (a field shift and beyond); admins can revoke earlier.",
    ),
    Setting(
        "XUNJIAN_DEMO_PASSWORD", "demo1234", "Password of the demo users made by `xunjian demo`."
    ),
    Setting(
        "XUNJIAN_SECURE_COOKIES",
        "false",
        "`true` marks the session cookie Secure (set it when served over HTTPS).",
    ),
    Setting(
        "XUNJIAN_PHOTO_MAX_MB",
        "10",
        "Largest photo upload accepted, in MB (phones send ~0.3 MB after downscaling).",
    ),
    Setting(
        "XUNJIAN_PHOTO_MAX_MEGAPIXELS",
        "50",
        "Largest photo accepted, in megapixels; guards against decompression bombs.",
    ),
    Setting(
        "XUNJIAN_WORKERS",
        "1",
        "Worker processes of `xunjian serve` (as `--workers`); more than 1 needs PostgreSQL.",
    ),
    Setting(
        "XUNJIAN_LOG_FORMAT",
        "text",
        "`text` for people, `json` for one JSON object a line (with the request id) for a log store.",
    ),
    Setting(
        "XUNJIAN_BACKGROUND_INTERVAL_SECONDS",
        "60",
        "How often background jobs run (escalation of late deferred orders, compliance upkeep).",
    ),
    Setting(
        "XUNJIAN_TLS",
        "false",
        "`true` serves HTTPS (as `xunjian serve --tls`), with the certificate of `xunjian cert` "
        "unless the next two are set.",
    ),
    Setting(
        "XUNJIAN_TLS_CERT",
        "<data dir>/tls/server.crt",
        "PEM certificate chain for HTTPS (a real certificate instead of the local CA's).",
    ),
    Setting("XUNJIAN_TLS_KEY", "<data dir>/tls/server.key", "PEM private key for HTTPS."),
    Setting(
        "XUNJIAN_TRUSTED_PROXIES",
        "(none)",
        "Comma list of proxy IPs/CIDRs whose X-Forwarded-For/-Proto are believed; empty trusts none.",
    ),
    Setting(
        "XUNJIAN_S3_BUCKET",
        "(none)",
        "Bucket for photos: setting it stores photos there (private; served through the app) "
        'instead of in `<data dir>/photos`. See "Photos in object storage".',
    ),
    Setting(
        "XUNJIAN_S3_URL",
        "(none)",
        "Endpoint of the S3-compatible store, e.g. `http://127.0.0.1:9000` (MinIO) or "
        "`https://cos.ap-shanghai.myqcloud.com`; empty means AWS S3 in the region.",
    ),
    Setting("XUNJIAN_S3_REGION", "us-east-1", "Region the requests are signed for."),
    Setting(
        "XUNJIAN_S3_ACCESS_KEY",
        "(none)",
        "Access key id; empty uses the usual AWS chain (AWS_ACCESS_KEY_ID, instance role).",
    ),
    Setting("XUNJIAN_S3_SECRET_KEY", "(none)", "Secret key for the access key; never logged."),
    Setting("XUNJIAN_S3_PREFIX", "photos", "Folder of the photo objects in the bucket."),
    Setting(
        "XUNJIAN_S3_PATH_STYLE",
        "auto",
        "`true`: requests go to `<url>/<bucket>/…` (MinIO reached by a host name); `false`: to "
        "`<bucket>.<host>/…` (Aliyun OSS requires it); `auto`: `true` for an IP address or "
        "localhost, else `false`.",
    ),
)

SETTING_NAMES = frozenset(s.env for s in SETTINGS)


def _parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _parse_int(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _parse_networks(name: str, value: str) -> tuple[str, ...]:
    networks = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {part!r} is not an IP address or network") from None
    return tuple(networks)


def _parse_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return lowered


def _s3_settings(env: dict[str, str]) -> dict:
    bucket = (env.get("XUNJIAN_S3_BUCKET") or "").strip()
    url = (env.get("XUNJIAN_S3_URL") or "").strip().rstrip("/")
    access_key = env.get("XUNJIAN_S3_ACCESS_KEY") or ""
    secret_key = env.get("XUNJIAN_S3_SECRET_KEY") or ""
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError("XUNJIAN_S3_URL must start with http:// or https://")
    if bucket and not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
        raise SettingsError(f"XUNJIAN_S3_BUCKET {bucket!r} is not a bucket name")
    if bool(access_key) != bool(secret_key):
        raise SettingsError("XUNJIAN_S3_ACCESS_KEY and XUNJIAN_S3_SECRET_KEY must be set together")
    return {
        "s3_bucket": bucket,
        "s3_url": url,
        "s3_region": (env.get("XUNJIAN_S3_REGION") or "").strip() or "us-east-1",
        "s3_access_key": access_key,
        "s3_secret_key": secret_key,
        "s3_prefix": (env.get("XUNJIAN_S3_PREFIX") or "photos").strip().strip("/"),
        "s3_path_style": (
            None
            if (env.get("XUNJIAN_S3_PATH_STYLE") or "auto").strip().lower() == "auto"
            else _parse_bool("XUNJIAN_S3_PATH_STYLE", env["XUNJIAN_S3_PATH_STYLE"])
        ),
    }


def database_url_from_env(env: dict[str, str] | None = None) -> str:
    """The database URL alone, without side effects (used by the migration runner)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("XUNJIAN_DATA_DIR") or "./data").resolve()
    return env.get("XUNJIAN_DATABASE_URL") or f"sqlite:///{data_dir / 'xunjian.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str
    base_url: str
    host: str = "0.0.0.0"
    port: int = 8000
    timezone: str = "Asia/Shanghai"
    session_days: int = 30
    demo_password: str = "demo1234"
    secure_cookies: bool = False
    photo_max_bytes: int = 10 * 1024 * 1024
    photo_max_pixels: int = 50_000_000
    workers: int = 1
    log_format: str = "text"
    tls: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    s3_bucket: str = ""
    s3_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = field(default="", repr=False)
    s3_prefix: str = "photos"
    s3_path_style: bool | None = None  # None: decided from the URL (see server/storage_s3.py)
    # Not from the environment: tests shorten these.
    login_failures_per_user: int = field(default=5)
    login_failures_per_address: int = field(default=20)
    login_window_seconds: int = field(default=15 * 60)
    # How often the server escalates deferred work orders not back in time (server/escalation.py).
    escalation_interval_seconds: float = field(default=60)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("XUNJIAN_DATA_DIR") or "./data").resolve()
        host = env.get("XUNJIAN_HOST") or "0.0.0.0"
        port = _parse_int("XUNJIAN_PORT", env.get("XUNJIAN_PORT") or "8000", 1, 65535)
        timezone = env.get("XUNJIAN_TIMEZONE") or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"XUNJIAN_TIMEZONE {timezone!r} is not a known time zone") from None
        database_url = database_url_from_env(env)
        if not database_url.startswith(("sqlite:///", "postgres://", "postgresql://")):
            raise SettingsError(
                "XUNJIAN_DATABASE_URL must start with sqlite:///, postgres:// or postgresql://"
            )
        shown_host = "localhost" if host in {"0.0.0.0", "::"} else host
        tls = _parse_bool("XUNJIAN_TLS", env.get("XUNJIAN_TLS") or "false")
        tls_cert, tls_key = env.get("XUNJIAN_TLS_CERT"), env.get("XUNJIAN_TLS_KEY")
        if bool(tls_cert) != bool(tls_key):
            raise SettingsError("XUNJIAN_TLS_CERT and XUNJIAN_TLS_KEY must be set together")
        return cls(
            database_url=database_url,
            data_dir=data_dir,
            secret_key=env.get("XUNJIAN_SECRET_KEY") or _stored_secret(data_dir),
            base_url=(
                env.get("XUNJIAN_BASE_URL") or f"{'https' if tls else 'http'}://{shown_host}:{port}"
            ).rstrip("/"),
            host=host,
            port=port,
            timezone=timezone,
            session_days=_parse_int(
                "XUNJIAN_SESSION_DAYS", env.get("XUNJIAN_SESSION_DAYS") or "30", 1, 3650
            ),
            demo_password=env.get("XUNJIAN_DEMO_PASSWORD") or "demo1234",
            secure_cookies=_parse_bool(
                "XUNJIAN_SECURE_COOKIES", env.get("XUNJIAN_SECURE_COOKIES") or "false"
            ),
            photo_max_bytes=_parse_int(
                "XUNJIAN_PHOTO_MAX_MB", env.get("XUNJIAN_PHOTO_MAX_MB") or "10", 1, 200
            )
            * 1024
            * 1024,
            photo_max_pixels=_parse_int(
                "XUNJIAN_PHOTO_MAX_MEGAPIXELS",
                env.get("XUNJIAN_PHOTO_MAX_MEGAPIXELS") or "50",
                1,
                500,
            )
            * 1_000_000,
            workers=_parse_int("XUNJIAN_WORKERS", env.get("XUNJIAN_WORKERS") or "1", 1, 64),
            log_format=_parse_choice(
                "XUNJIAN_LOG_FORMAT", env.get("XUNJIAN_LOG_FORMAT") or "text", ("text", "json")
            ),
            escalation_interval_seconds=_parse_int(
                "XUNJIAN_BACKGROUND_INTERVAL_SECONDS",
                env.get("XUNJIAN_BACKGROUND_INTERVAL_SECONDS") or "60",
                1,
                86400,
            ),
            tls=tls,
            tls_cert=Path(tls_cert).resolve() if tls_cert else None,
            tls_key=Path(tls_key).resolve() if tls_key else None,
            trusted_proxies=_parse_networks(
                "XUNJIAN_TRUSTED_PROXIES", env.get("XUNJIAN_TRUSTED_PROXIES") or ""
            ),
            **_s3_settings(env),
        )


def _stored_secret(data_dir: Path) -> str:
    """Generate the signing key once and keep it, so printed labels stay valid across restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    # Exclusive create: two workers starting together must not write different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def settings_fields() -> list[str]:
    return [f.name for f in fields(Settings)]
