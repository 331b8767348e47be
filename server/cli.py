"""The ``xunjian`` command: migrate, demo, serve, create-user, labels."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import socket
import sys

from server.settings import Settings, SettingsError

DEMO_ROLES = ("patrol", "inspector", "dispatcher", "engineering", "manager", "admin")


async def _with_engine(settings: Settings, work):
    from piccolo.engine.postgres import PostgresEngine

    from server.db import bind_engine, make_engine

    engine = make_engine(settings.database_url)
    bind_engine(engine)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        return await work()
    finally:
        if isinstance(engine, PostgresEngine):
            await engine.close_connection_pool()


def cmd_migrate(settings: Settings, _args) -> int:
    from server.migrate import migrate
    from server.reference import ensure_reference_data

    asyncio.run(migrate(settings.database_url))
    asyncio.run(_with_engine(settings, ensure_reference_data))
    print("数据库已是最新 / database is up to date")
    return 0


def cmd_demo(settings: Settings, _args) -> int:
    from server.demo import load_demo

    summary = asyncio.run(_with_engine(settings, lambda: load_demo(settings)))
    print(f"演示项目 / demo site: {summary}")
    return 0


def _lan_addresses() -> list[str]:
    addresses = set()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            # No packet is sent: connecting a UDP socket only picks the outgoing interface.
            probe.connect(("10.255.255.255", 1))
            addresses.add(probe.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in addresses if not a.startswith("127."))


async def _demo_logins_exist() -> bool:
    from server.tables.accounts import User

    return await User.exists().where(User.email.like("%@demo.invalid"))


def _workers(settings: Settings, args) -> int | None:
    """How many worker processes to run; None (after saying why) when the database cannot."""
    workers = args.workers or settings.workers
    if workers < 1:
        print("--workers 至少为 1 / --workers must be at least 1", file=sys.stderr)
        return None
    if workers > 1 and not settings.is_postgres:
        print(
            f"SQLite 只能用一个工作进程：多个进程同时写入会互相锁住。请去掉 --workers {workers}，"
            "或改用 PostgreSQL（XUNJIAN_DATABASE_URL=postgres://…）。\n"
            f"SQLite runs with one worker only: several processes writing at once lock each other "
            f"out. Drop --workers {workers}, or use PostgreSQL (XUNJIAN_DATABASE_URL=postgres://…).",
            file=sys.stderr,
        )
        return None
    return workers


def cmd_serve(settings: Settings, args) -> int:
    import uvicorn

    from server.app import create_app

    if args.tls and not settings.tls:
        # Through the environment, so worker processes building their own app see it too.
        os.environ["XUNJIAN_TLS"] = "true"
        settings = Settings.from_env()
    host = args.host or settings.host
    port = args.port or settings.port
    tls = _tls_options(settings)
    workers = _workers(settings, args)
    if workers is None:
        return 2
    print(f"\n巡检 Xunjian  →  {settings.base_url}/")
    if host in {"0.0.0.0", "::"}:
        for address in _lan_addresses():
            scheme = "https" if tls else "http"
            print(f"  局域网 / LAN  →  {scheme}://{address}:{port}/")
    if tls and "ca" in tls:
        lan = _lan_addresses() if host in {"0.0.0.0", "::"} else []
        ca_page = f"https://{lan[0]}:{port}/ca" if lan else f"{settings.base_url}/ca"
        print(f"  手机安装根证书 / install the CA on phones  →  {ca_page}")
    if asyncio.run(_with_engine(settings, _demo_logins_exist)):
        print(
            f"  演示账号 / demo logins (password {settings.demo_password}): "
            + ", ".join(DEMO_ROLES)
        )
    print(f"  API 文档 / API docs  →  {settings.base_url}/schema\n", flush=True)
    from server.logging_setup import log_config

    uvicorn.run(
        # Several workers: each process builds its own app from the environment.
        create_app(settings) if workers == 1 else "server.app:app_from_env",
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level=args.log_level,
        log_config=log_config(settings.log_format, args.log_level),
        **_proxy_options(settings),
        **{k: v for k, v in tls.items() if k != "ca"},
    )
    return 0


def _tls_options(settings: Settings) -> dict:
    """uvicorn's certificate options: a real certificate from the settings, or the local CA's."""
    if not settings.tls:
        return {}
    if settings.tls_cert and settings.tls_key:
        return {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    from server.tls import ensure_certificates

    result = ensure_certificates(settings.data_dir)
    if result.ca_created or result.server_issued:
        print(f"已生成证书 / certificate issued for: {', '.join(result.names)}")
    return {
        "ssl_certfile": str(result.files.cert),
        "ssl_keyfile": str(result.files.key),
        "ca": True,
    }


def _proxy_options(settings: Settings) -> dict:
    """Forwarded headers are believed only from the configured proxies (none by default)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(settings.trusted_proxies)}


def cmd_cert(settings: Settings, args) -> int:
    from server.tls import ensure_certificates, fingerprint, load_certificate

    result = ensure_certificates(
        settings.data_dir, args.name or [], force=args.force, new_ca=args.new_ca
    )
    files = result.files
    ca_state = "已生成 / created" if result.ca_created else "沿用 / kept"
    server_state = "已签发 / issued" if result.server_issued else "沿用 / kept"
    print(f"根证书 / CA ({ca_state}): {files.ca_cert}")
    print(f"  SHA-256: {fingerprint(load_certificate(files.ca_cert))}")
    print(f"服务器证书 / server certificate ({server_state}): {files.cert}")
    print(f"  名称与地址 / names: {', '.join(result.names)}")
    print(
        "在手机上安装根证书：用 xunjian serve --tls 启动后打开 /ca 页面。\n"
        "Install the CA on each phone from the /ca page once `xunjian serve --tls` runs."
    )
    return 0


def cmd_create_user(settings: Settings, args) -> int:
    from server.errors import ApiError
    from server.users import create_user

    password = args.password or os.environ.get("XUNJIAN_NEW_PASSWORD")
    if not password:
        password = getpass.getpass("密码 / password: ")
    try:
        user_id = asyncio.run(
            _with_engine(
                settings,
                lambda: create_user(
                    username=args.username,
                    password=password,
                    role=args.role,
                    display_name=args.display_name or "",
                    department_code=args.department,
                    site_codes=args.site or [],
                ),
            )
        )
    except ApiError as error:
        print(
            f"无法创建用户 / cannot create user: {error.code} {error.extra_detail or ''}",
            file=sys.stderr,
        )
        return 1
    print(f"已创建用户 / created user {args.username} (id {user_id})")
    return 0


def cmd_labels(settings: Settings, args) -> int:
    from pathlib import Path

    from qr.sheets import LAYOUTS, FontNotFoundError, write_pdf, write_png
    from server import labels

    output = Path(args.output)
    suffix = output.suffix.lower()
    if suffix not in (".pdf", ".png"):
        print("输出文件须为 .pdf 或 .png / -o must end in .pdf or .png", file=sys.stderr)
        return 2

    async def collect():
        site = await labels.site_by_code_or_name(args.site)
        building = floor = None
        if args.building is not None:
            building = (await labels.building_in_site(site["id"], args.building))["id"]
        if args.floor is not None:
            floor = (await labels.floor_in_site(site["id"], building, args.floor))["id"]
        items = await labels.labels_for(
            settings, site["id"], building=building, floor=floor, kind=args.kind
        )
        return site, items

    try:
        site, items = asyncio.run(_with_engine(settings, collect))
    except LookupError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    if not items:
        print("所选范围内没有巡检点 / no checkpoints match", file=sys.stderr)
        return 2
    layout = LAYOUTS[args.layout]
    try:
        if suffix == ".pdf":
            pages = write_pdf(items, layout, output)
            files = [output]
        else:
            files = write_png(items, layout, output)
            pages = len(files)
    except FontNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"{site['name']}: {len(items)} 张标签，{pages} 页 / {len(items)} labels, {pages} pages → "
        + ", ".join(str(f) for f in files)
    )
    return 0


def cmd_photos_to_s3(settings: Settings, args) -> int:
    """Copy the photos on local disk into the bucket (idempotent) and verify every object's hash."""
    from pathlib import Path

    from server.storage_s3 import copy_local_photos, store_from_settings

    if not settings.s3_bucket:
        print("先设置 XUNJIAN_S3_BUCKET / set XUNJIAN_S3_BUCKET first", file=sys.stderr)
        return 2
    root = Path(args.source) if args.source else settings.data_dir / "photos"
    if not root.is_dir():
        print(f"没有照片目录 / no photos directory: {root}", file=sys.stderr)
        return 2
    store = store_from_settings(settings)
    store.check_sync()
    report = copy_local_photos(root, store)
    print(
        f"copied {report.copied}, already in the bucket {report.already}, "
        f"hash mismatches {len(report.mismatched)} (bucket {settings.s3_bucket})"
    )
    for key in report.mismatched:
        print(f"  MISMATCH {key}", file=sys.stderr)
    return 1 if report.mismatched else 0


def cmd_backup(settings: Settings, args) -> int:
    from pathlib import Path

    from server.backup import BackupError, backup

    try:
        path, manifest = backup(settings, Path(args.output) if args.output else None)
    except BackupError as error:
        print(f"备份失败 / backup failed: {error}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
    print(f"已备份 / backed up → {path}\n  {counts}, photos {manifest['photos']}")
    return 0


def cmd_restore(settings: Settings, args) -> int:
    from pathlib import Path

    from server.backup import BackupError, restore

    try:
        manifest = restore(settings, Path(args.file), force=args.force)
    except BackupError as error:
        print(f"恢复失败 / restore failed: {error}", file=sys.stderr)
        return 1
    print(
        f"已恢复 / restored {args.file} (备份于 / made {manifest['created_at']}, "
        f"migration {manifest['migration']}); 请运行 / now run: xunjian migrate"
    )
    if os.environ.get("XUNJIAN_SECRET_KEY") and manifest.get("secret_key"):
        print(
            "注意：已设置 XUNJIAN_SECRET_KEY，它优先于恢复的 secret_key 文件 / note: "
            "XUNJIAN_SECRET_KEY is set and wins over the restored secret_key file",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xunjian", description="巡检 Xunjian field inspection server"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema and reference data")
    sub.add_parser("demo", help="load the demo site and demo users (idempotent)")
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers", type=int, help="worker processes (PostgreSQL only; or XUNJIAN_WORKERS)"
    )
    serve.add_argument(
        "--tls", action="store_true", help="serve HTTPS (or XUNJIAN_TLS=true); see `xunjian cert`"
    )
    cert = sub.add_parser(
        "cert", help="make the local CA and HTTPS certificate for a LAN trial (idempotent)"
    )
    cert.add_argument(
        "--name", action="append", help="another host name or address to cover; repeatable"
    )
    cert.add_argument("--force", action="store_true", help="re-issue the server certificate")
    cert.add_argument(
        "--new-ca",
        action="store_true",
        help="replace the CA too (every phone must install the new one)",
    )
    create = sub.add_parser("create-user", help="create a user")
    create.add_argument("username")
    create.add_argument(
        "--role",
        required=True,
        choices=["patrol", "inspector", "dispatcher", "department", "manager", "admin"],
    )
    create.add_argument("--password", help="omit to be asked (or set XUNJIAN_NEW_PASSWORD)")
    create.add_argument("--display-name")
    create.add_argument("--department", help="engineering | security | cleaning | customer_service")
    create.add_argument("--site", action="append", help="site code; repeat for several")
    back = sub.add_parser("backup", help="write the database, photos and key to one .tar.gz")
    back.add_argument(
        "-o", "--output", help="archive path (default ./xunjian-backup-<time>.tar.gz)"
    )
    rest = sub.add_parser("restore", help="restore a backup into an empty database and data dir")
    rest.add_argument("file")
    rest.add_argument("--force", action="store_true", help="replace a database that holds data")
    label = sub.add_parser("labels", help="print checkpoint QR labels to a PDF or PNG(s)")
    label.add_argument("--site", help="site code or name; may be omitted when there is one site")
    label.add_argument("--building", help="building code or name, e.g. 1 or 1栋")
    label.add_argument("--floor", help="floor name as printed, e.g. 12F or B1")
    label.add_argument("--kind", choices=["facility", "vacant_unit", "signage", "renovation"])
    label.add_argument("--layout", choices=["dense", "plate"], default="dense")
    label.add_argument(
        "-o", "--output", required=True, help="labels.pdf, or labels.png (one PNG per page)"
    )
    to_s3 = sub.add_parser(
        "photos-to-s3",
        help="copy local photos into XUNJIAN_S3_BUCKET, verifying hashes (idempotent)",
    )
    to_s3.add_argument("--source", help="photos directory (default <data dir>/photos)")
    return parser


COMMANDS = {
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "serve": cmd_serve,
    "cert": cmd_cert,
    "create-user": cmd_create_user,
    "labels": cmd_labels,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "photos-to-s3": cmd_photos_to_s3,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"配置错误 / settings error: {error}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())
