"""The README's settings table lists exactly the settings the code reads, with the same defaults."""

import re
from pathlib import Path

import pytest

from server.settings import SETTINGS, Settings, SettingsError

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_rows() -> dict[str, str]:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`(XUNJIAN_[A-Z0-9_]+)`\s*\|\s*(.*?)\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip("` ")
    return rows


def test_every_setting_is_documented_with_its_default():
    rows = _readme_rows()
    assert set(rows) == {s.env for s in SETTINGS}
    for setting in SETTINGS:
        assert rows[setting.env] == setting.default, setting.env


def test_code_reads_only_documented_variables():
    source = (Path(__file__).resolve().parents[1] / "server" / "settings.py").read_text()
    read = set(re.findall(r'"(XUNJIAN_[A-Z0-9_]+)"', source))
    assert read == {s.env for s in SETTINGS}


def test_defaults(tmp_path):
    settings = Settings.from_env({"XUNJIAN_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'xunjian.sqlite3'}"
    assert settings.port == 8000 and settings.host == "0.0.0.0"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.base_url == "http://localhost:8000"
    assert not settings.is_postgres


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env({"XUNJIAN_DATA_DIR": str(tmp_path)}).secret_key
    second = Settings.from_env({"XUNJIAN_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_postgres_url_switches_engine(tmp_path):
    settings = Settings.from_env(
        {"XUNJIAN_DATA_DIR": str(tmp_path), "XUNJIAN_DATABASE_URL": "postgres://u@h/db"}
    )
    assert settings.is_postgres


@pytest.mark.parametrize(
    "env",
    [
        {"XUNJIAN_PORT": "http"},
        {"XUNJIAN_PORT": "70000"},
        {"XUNJIAN_TIMEZONE": "Mars/Olympus"},
        {"XUNJIAN_DATABASE_URL": "mysql://x"},
        {"XUNJIAN_SECURE_COOKIES": "maybe"},
    ],
)
def test_bad_settings_are_refused_with_a_reason(env, tmp_path):
    with pytest.raises(SettingsError):
        Settings.from_env({"XUNJIAN_DATA_DIR": str(tmp_path), **env})
