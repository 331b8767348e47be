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


def cmd_serve(settings: Settings, args) -> int:
    import uvicorn

    from server.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    print(f"\n巡检 Xunjian  →  {settings.base_url}/")
    if host in {"0.0.0.0", "::"}:
        for address in _lan_addresses():
            print(f"  局域网 / LAN  →  http://{address}:{port}/")
    if asyncio.run(_with_engine(settings, _demo_logins_exist)):
        print(
            f"  演示账号 / demo logins (password {settings.demo_password}): "
            + ", ".join(DEMO_ROLES)
        )
    print(f"  API 文档 / API docs  →  {settings.base_url}/schema\n", flush=True)
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level=args.log_level, proxy_headers=False
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
    label = sub.add_parser("labels", help="print checkpoint QR labels to a PDF or PNG(s)")
    label.add_argument("--site", help="site code or name; may be omitted when there is one site")
    label.add_argument("--building", help="building code or name, e.g. 1 or 1栋")
    label.add_argument("--floor", help="floor name as printed, e.g. 12F or B1")
    label.add_argument("--kind", choices=["facility", "vacant_unit", "signage", "renovation"])
    label.add_argument("--layout", choices=["dense", "plate"], default="dense")
    label.add_argument(
        "-o", "--output", required=True, help="labels.pdf, or labels.png (one PNG per page)"
    )
    return parser


COMMANDS = {
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "serve": cmd_serve,
    "create-user": cmd_create_user,
    "labels": cmd_labels,
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
