"""Shared fixtures: a real database (SQLite file, or PostgreSQL when XUNJIAN_TEST_DATABASE_URL says
so), the real app driven over ASGI, factories, and a real uvicorn server for browser tests.

Tests isolate themselves by making their own site and users (unique codes), never by hard-coded ids.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pg_databases import recreate_database

from server.app import create_app
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
PASSWORD = "field-test-pw-1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_report_header(config):
    return f"xunjian database: {_database_kind()}"


def _database_kind() -> str:
    url = os.environ.get("XUNJIAN_TEST_DATABASE_URL", "")
    return "postgres" if url.startswith("postgres") else "sqlite"


def pytest_collection_modifyitems(config, items):
    # Playwright's sync API holds the thread's event loop while the browser is open, so browser
    # tests run last, after every async test.
    items.sort(key=lambda item: "browser" in item.keywords)
    if _database_kind() != "postgres":
        skip = pytest.mark.skip(reason="needs PostgreSQL (XUNJIAN_TEST_DATABASE_URL)")
        for item in items:
            if "pg" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xunjian-data")


@pytest.fixture(scope="session")
def database_url(data_dir) -> str:
    url = os.environ.get("XUNJIAN_TEST_DATABASE_URL")
    if url:
        asyncio.run(recreate_database(url))
        return url
    return f"sqlite:///{data_dir / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def settings(database_url, data_dir) -> Settings:
    base = Settings.from_env(
        {
            "XUNJIAN_DATABASE_URL": database_url,
            "XUNJIAN_DATA_DIR": str(data_dir),
            "XUNJIAN_SECRET_KEY": "test-secret-key",
            "XUNJIAN_BASE_URL": "http://testserver",
        }
    )
    return replace(base, login_failures_per_address=10_000)


@pytest.fixture(scope="session")
async def migrated(settings) -> str:
    from server.migrate import migrate

    await migrate(settings.database_url)
    return settings.database_url


@pytest.fixture(scope="session")
async def app(settings, migrated):
    """The real app with its lifespan running for the whole session (engine bound, pool open)."""
    from server.reference import ensure_reference_data

    application = create_app(settings)
    # The lifespan runs in the tests' own event loop, so the engine's connections (asyncpg's
    # pool on PostgreSQL) belong to the loop the factories use too. It is entered and left in one
    # task of its own: anyio's cancel scopes must not cross tasks.
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan():
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await asyncio.wait(
        {task, asyncio.create_task(started.wait())}, return_when=asyncio.FIRST_COMPLETED
    )
    if task.done():
        task.result()  # start-up failed: raise its error here
    await ensure_reference_data()
    yield application
    stop.set()
    await task


_addresses = itertools.count(1)


@pytest.fixture
async def make_client(app):
    """New API clients with their own cookie jar and client address (so throttling is per test)."""
    clients: list[httpx.AsyncClient] = []

    def factory(language: str = "zh-CN") -> httpx.AsyncClient:
        n = next(_addresses)
        transport = httpx.ASGITransport(app=app, client=(f"10.9.{n // 250}.{n % 250 + 1}", 40000))
        client = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Accept-Language": language},
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def password_hash() -> str:
    from server.tables.accounts import User

    return User.hash_password(PASSWORD)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}".upper()


@dataclass
class SiteFixture:
    id: int
    code: str
    building_id: int
    floor_id: int
    unit_id: int
    checkpoint_ids: list[int]


@pytest.fixture
def make_site(app):
    """A small site: one building, one floor, one unit, a few checkpoints of each kind."""
    from server.tables.checkpoints import ChecklistTemplate, Checkpoint
    from server.tables.sites import Building, Floor, Site, Unit

    async def factory(checkpoints: int = 4) -> SiteFixture:
        now = datetime.now(UTC)
        site = Site(code=unique("S"), name="测试小区", created_at=now)
        await site.save()
        building = Building(site=site.id, code="A", name="1栋", floors_above=2)
        await building.save()
        floor = Floor(building=building.id, level=1, name="1F")
        await floor.save()
        unit = Unit(floor=floor.id, number="101", status="vacant")
        await unit.save()
        template = (
            await ChecklistTemplate.select(ChecklistTemplate.id)
            .where(ChecklistTemplate.kind == "facility")
            .first()
        )
        rows = [
            Checkpoint(
                site=site.id,
                code=f"A-1-T{i}",
                kind="facility",
                type_code="hydrant",
                name=f"消火栓 {i}",
                building=building.id,
                floor=floor.id,
                template=template["id"] if template else None,
                updated_at=now,
            )
            for i in range(checkpoints)
        ]
        ids = [r["id"] for r in await Checkpoint.insert(*rows)] if rows else []
        return SiteFixture(site.id, site.code, building.id, floor.id, unit.id, ids)

    return factory


@dataclass
class UserFixture:
    id: int
    username: str
    password: str
    role: str


@pytest.fixture
def make_user(app, password_hash):
    from server.tables.accounts import Department, SiteMembership, User

    async def factory(
        role: str = "patrol",
        sites: list[int] = (),
        department: str | None = None,
        active: bool = True,
    ) -> UserFixture:
        username = unique(f"{role}-").lower()
        department_id = None
        if department:
            department_id = (
                await Department.select(Department.id).where(Department.code == department).first()
            )["id"]
        user = User(
            username=username,
            password=password_hash,
            email=f"{username}@test.invalid",
            display_name=f"测试{role}",
            role=role,
            active=active,
            department=department_id,
            admin=role == "admin",
        )
        await user.save()
        if sites:
            await SiteMembership.insert(*[SiteMembership(user=user.id, site=s) for s in sites])
        return UserFixture(user.id, username, PASSWORD, role)

    return factory


@pytest.fixture
def login(make_client):
    async def do_login(user: UserFixture, language: str = "zh-CN") -> httpx.AsyncClient:
        client = make_client(language)
        response = await client.post(
            "/api/auth/login", json={"username": user.username, "password": user.password}
        )
        assert response.status_code == 200, response.text
        return client

    return do_login


# ---------------------------------------------------------------------------------------------
# A real server for browser tests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    port: int
    demo_password: str
    env: dict
    process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited during start-up")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy in 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def demo_server(database_url: str, data_dir: Path, secret_key: str, password: str) -> LiveServer:
    """A server (not yet started) on a free port, its database migrated and the demo loaded."""
    port = free_port()
    env = {
        **os.environ,
        "XUNJIAN_DATABASE_URL": database_url,
        "XUNJIAN_DATA_DIR": str(data_dir),
        "XUNJIAN_SECRET_KEY": secret_key,
        "XUNJIAN_BASE_URL": f"http://127.0.0.1:{port}",
        "XUNJIAN_DEMO_PASSWORD": password,
    }
    for command in (["migrate"], ["demo"]):
        subprocess.run(
            [sys.executable, "-m", "server.cli", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return LiveServer(f"http://127.0.0.1:{port}", port, password, env)


@pytest.fixture(scope="session")
def live_server(settings, migrated, tmp_path_factory):
    """``xunjian serve`` in a subprocess on a free port, on the test database with the demo loaded."""
    server = demo_server(
        settings.database_url,
        tmp_path_factory.mktemp("live-data"),
        settings.secret_key,
        settings.demo_password,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()
