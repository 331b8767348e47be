"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from piccolo.engine.postgres import PostgresEngine

from server.admin import admin_mount
from server.db import bind_engine, enable_sqlite_wal, make_engine
from server.errors import EXCEPTION_HANDLERS
from server.guards import SessionAuthenticationMiddleware
from server.leader import background_jobs
from server.logging_setup import litestar_logging_config, request_id_middleware
from server.routes.auth import AuthController
from server.routes.ca import CA_HANDLERS
from server.routes.calendars import CalendarController
from server.routes.catalogue import CatalogueController
from server.routes.compliance import ComplianceController
from server.routes.floor_plans import FloorPlanController
from server.routes.health import healthz
from server.routes.imports import ImportController
from server.routes.inspections import InspectionController
from server.routes.labels import LabelController
from server.routes.patrol_records import PatrolRecordController
from server.routes.photos import PhotoController
from server.routes.plans import PlanController
from server.routes.renovation_acceptance import RenovationAcceptanceController
from server.routes.renovation_board import RenovationBoardController
from server.routes.renovations import RenovationController
from server.routes.scan import ScanController
from server.routes.site_rules import SiteRulesController
from server.routes.sites import SiteController
from server.routes.sync import SyncController
from server.routes.users import UserController
from server.routes.violations import ViolationController
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
        # Escalation, compliance upkeep and retention purges: each run by one worker at a time.
        try:
            async with background_jobs(settings):
                yield
        finally:
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
            RenovationBoardController,
            RenovationController,
            RenovationAcceptanceController,
            ViolationController,
            SiteRulesController,
            PlanController,
            PatrolRecordController,
            ComplianceController,
            FloorPlanController,
            CalendarController,
            WorkOrderStatsController,
            healthz,
            *CA_HANDLERS,
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
        logging_config=litestar_logging_config(),
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Xunjian 巡检 API",
            version="0.1.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )
    # Outermost: every request (404s and refused logins too) gets its id before anything logs.
    app.asgi_handler = request_id_middleware(app.asgi_handler)
    app.state.settings = settings
    app.state.engine = engine
    return app


def app_from_env() -> Litestar:
    """The app for ``uvicorn --factory`` (each worker of ``xunjian serve --workers N`` builds its
    own from the environment)."""
    return create_app(Settings.from_env())
