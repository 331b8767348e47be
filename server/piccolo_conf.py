"""Piccolo's configuration module, used by the migration runner (``xunjian migrate``).

The app itself never relies on it: ``create_app`` binds its own engine to every table.
"""

from piccolo.conf.apps import AppRegistry

from server.db import make_engine
from server.settings import database_url_from_env

DB = make_engine(database_url_from_env())

APP_REGISTRY = AppRegistry(apps=["server.piccolo_app"])
