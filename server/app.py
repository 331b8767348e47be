"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from piccolo.engine.postgres import PostgresEngine

from server import compliance_store
from server.admin import admin_mount
from server.db import bind_engine, enable_sqlite_wal, make_engine
from server.errors import EXCEPTION_HANDLERS
from server.escalation import run_periodically
from server.guards import SessionAuthenticationMiddleware
from server.routes.auth import AuthController
from server.routes.calendars import CalendarController
from server.routes.catalogue import CatalogueController
from server.routes.compliance import ComplianceController
from server.routes.health import healthz
from server.routes.imports import ImportController
from server.routes.inspections import InspectionController
from server.routes.labels import LabelController
from server.routes.photos import PhotoController
from server.routes.plans import PlanController
from server.routes.scan import ScanController
from server.routes.sites import SiteController
from server.routes.sync import SyncController
from server.routes.users import UserController
from server.routes.web import WEB_HANDLERS, static_routers
from server.routes.work_order_stats import WorkOrderStatsController
from server.routes.work_orders import WorkOrderController
from server.settings import Settings


def create_app(settings: Settings) -> Litestar:
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        bind_engine(engine)
        # Fail loudly at start-up: a server without its database must not boot "healthy".
        if isinstance(engine, PostgresEngine):
            await engine.start_connection_pool(min_size=1, max_size=10)
        await engine.run_ddl("SELECT 1")
        await enable_sqlite_wal(engine)
        # Work orders deferred and not back in time escalate by themselves (no external cron).
        escalation = asyncio.create_task(
            run_periodically(settings, settings.escalation_interval_seconds)
        )
        # Patrol rounds: stored up to today, passed ones closed, a failed recompute retried.
        compliance_upkeep = asyncio.create_task(
            compliance_store.run_periodically(settings.escalation_interval_seconds)
        )
        try:
            yield
        finally:
            escalation.cancel()
            compliance_upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await escalation
            with contextlib.suppress(asyncio.CancelledError):
                await compliance_upkeep
            if isinstance(engine, PostgresEngine):
                await engine.close_connection_pool()

    app = Litestar(
        route_handlers=[
            AuthController,
            SiteController,
            ImportController,
            UserController,
            LabelController,
            ScanController,
            PhotoController,
            SyncController,
            CatalogueController,
            InspectionController,
            WorkOrderController,
            PlanController,
            ComplianceController,
            CalendarController,
            WorkOrderStatsController,
            healthz,
            *WEB_HANDLERS,
            *static_routers(),
            admin_mount(settings),
        ],
        middleware=[
            DefineMiddleware(
                SessionAuthenticationMiddleware,
                exclude_from_auth_key="exclude_from_auth",
                # The API description is public; it holds no data.
                exclude=["^/schema"],
            )
        ],
        # The catalogue is ~0.5 MB of JSON for a 2,000-checkpoint site and ~35 KB gzipped: on a
        # phone with one bar that is the difference. Level 6 costs half of level 9's CPU for ~5%
        # more bytes. Photos and label PDFs are already compressed.
        compression_config=CompressionConfig(
            backend="gzip",
            gzip_compress_level=6,
            minimum_size=1024,
            exclude=["^/api/photos", r"labels\.pdf$", "^/admin"],
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Xunjian 巡检 API",
            version="0.1.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    return app
