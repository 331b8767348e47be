"""The Piccolo app: registers every table module and the migrations folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig, table_finder

HERE = Path(__file__).parent

APP_CONFIG = AppConfig(
    app_name="xunjian",
    migrations_folder_path=str(HERE / "migrations"),
    table_classes=table_finder(
        modules=[
            "server.tables.sites",
            "server.tables.accounts",
            "server.tables.checkpoints",
            "server.tables.inspections",
            "server.tables.work_orders",
            "server.tables.plans",
            "server.tables.calendars",
            "server.tables.renovations",
            "server.tables.violations",
        ],
        exclude_imported=True,
    )
    + table_finder(modules=["piccolo_api.session_auth.tables"], exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
