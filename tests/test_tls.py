"""HTTPS for a LAN trial and behind a proxy: the local CA and server certificate (server/tls.py),
`xunjian serve --tls` checked by a client trusting only that CA, the /ca page and downloads, and
forwarded headers believed only from the configured proxies."""

from __future__ import annotations

import datetime as dt
import ipaddress
import plistlib
import ssl
import uuid
from dataclasses import replace

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from tls_server import Server

from server import tls
from server.app import create_app


def _stat_mode(path) -> int:
    return path.stat().st_mode & 0o777


def _sans(certificate: x509.Certificate) -> tuple[set[str], set[str]]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        set(san.get_values_for_type(x509.DNSName)),
        {str(a) for a in san.get_values_for_type(x509.IPAddress)},
    )


def _leaf(files: tls.TlsFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificates(files.cert.read_bytes())[0]


# ---------------------------------------------------------------------------------------------
# Certificates


def test_certificates_cover_the_machine_and_are_kept_private(tmp_path):
    result = tls.ensure_certificates(tmp_path, ["xunjian.lan", "10.20.30.40"])
    files = result.files
    assert result.ca_created and result.server_issued
    ca = tls.load_certificate(files.ca_cert)
    leaf = _leaf(files)

    # Names: the host name, localhost, loopback, every LAN address, and the extra ones.
    dns, ips = _sans(leaf)
    assert {tls.host_name().lower(), "localhost", "xunjian.lan"} <= dns
    assert {"127.0.0.1", "::1", "10.20.30.40"} <= ips
    assert set(tls.lan_addresses()) <= ips
    assert all(not ipaddress.ip_address(a).is_link_local for a in ips)

    # The CA: named for the product and the host, a CA for ten years; the leaf: 825 days at most.
    common_name = ca.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert common_name == f"巡检 Xunjian 本地根证书 {tls.host_name()}"[:64]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_days = (ca.not_valid_after_utc - ca.not_valid_before_utc).days
    assert 3650 <= ca_days <= 3651
    leaf_life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(days=824) < leaf_life <= dt.timedelta(days=825, hours=1)
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=825)
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ExtendedKeyUsageOID.SERVER_AUTH in usage
    leaf.verify_directly_issued_by(ca)
    # The served chain ends with the CA, and the key matches the leaf.
    chain = x509.load_pem_x509_certificates(files.cert.read_bytes())
    assert chain[-1] == ca
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert key.public_key() == leaf.public_key()

    # Permissions: the directory and the keys are the owner's alone.
    assert _stat_mode(files.directory) == 0o700
    assert _stat_mode(files.key) == 0o600
    assert _stat_mode(files.ca_key) == 0o600


def test_running_again_keeps_them_and_a_new_name_keeps_the_ca(tmp_path):
    first = tls.ensure_certificates(tmp_path, ["xunjian.lan"])
    ca_bytes = first.files.ca_cert.read_bytes()
    leaf_bytes = first.files.cert.read_bytes()
    key_bytes = first.files.key.read_bytes()

    again = tls.ensure_certificates(tmp_path)  # names already covered: nothing changes
    assert not again.ca_created and not again.server_issued
    assert first.files.cert.read_bytes() == leaf_bytes
    assert first.files.key.read_bytes() == key_bytes

    # A new address (the machine moved network): re-issued by the same CA, old names kept.
    moved = tls.ensure_certificates(tmp_path, ["192.168.77.5"])
    assert moved.server_issued and not moved.ca_created
    assert first.files.ca_cert.read_bytes() == ca_bytes
    dns, ips = _sans(_leaf(moved.files))
    assert "192.168.77.5" in ips and "xunjian.lan" in dns
    assert _stat_mode(moved.files.key) == 0o600

    forced = tls.ensure_certificates(tmp_path, force=True)
    assert forced.server_issued and not forced.ca_created
    assert first.files.ca_cert.read_bytes() == ca_bytes
    assert forced.files.key.read_bytes() != key_bytes

    renewed = tls.ensure_certificates(tmp_path, new_ca=True)
    assert renewed.ca_created and renewed.server_issued
    assert first.files.ca_cert.read_bytes() != ca_bytes
    _leaf(renewed.files).verify_directly_issued_by(tls.load_certificate(renewed.files.ca_cert))


def test_xunjian_cert_command(tmp_path, capsys, monkeypatch):
    from server.cli import main

    monkeypatch.setenv("XUNJIAN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XUNJIAN_SECRET_KEY", "x" * 32)
    assert main(["cert", "--name", "patrol.example.lan"]) == 0
    out = capsys.readouterr().out
    ca = tls.load_certificate(tmp_path / "tls" / "ca.crt")
    assert tls.fingerprint(ca) in out and "patrol.example.lan" in out
    assert main(["cert"]) == 0
    assert "沿用 / kept" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# The CA page


async def test_ca_page_and_downloads(settings, tmp_path):
    tls.ensure_certificates(tmp_path, ["xunjian.lan"])
    app = create_app(replace(settings, data_dir=tmp_path))
    ca = tls.load_certificate(tmp_path / "tls" / "ca.crt")
    der = ca.public_bytes(serialization.Encoding.DER)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        page = await client.get("/ca")  # no login
        assert page.status_code == 200
        text = page.text
        assert tls.fingerprint(ca) in text
        assert text.index("安卓手机") < text.index("Android")
        for step in (
            "设置 → 安全 → 加密与凭据 → 安装证书 → CA 证书",
            "设置 → 已下载描述文件",
            "设置 → 通用 → 关于本机 → 证书信任设置",
            "打开完全信任",
        ):
            assert step in text, step
        assert "<svg" in text  # the QR code of this page for the phone
        # Opened on the server itself, the QR code points phones at a LAN address, not loopback.
        lan = [a for a in tls.lan_addresses() if ipaddress.ip_address(a).version == 4]
        if lan:
            assert f"http://{lan[0]}:8000/ca" in text

        crt = await client.get("/ca.crt")
        assert crt.status_code == 200
        assert crt.headers["content-type"] == "application/x-x509-ca-cert"
        assert "xunjian-ca.crt" in crt.headers["content-disposition"]
        assert crt.content == der

        profile = await client.get("/ca.mobileconfig")
        assert profile.headers["content-type"] == "application/x-apple-aspen-config"
        plist = plistlib.loads(profile.content)
        payload = plist["PayloadContent"][0]
        assert payload["PayloadType"] == "com.apple.security.root"
        assert payload["PayloadContent"] == der
        uuid.UUID(plist["PayloadUUID"])


async def test_no_ca_no_page(settings, tmp_path):
    app = create_app(replace(settings, data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ("/ca", "/ca.crt", "/ca.mobileconfig"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "xunjian serve --tls" in response.text and "xunjian cert" in response.text
    assert not (tmp_path / "tls").exists()  # looking does not create one


# ---------------------------------------------------------------------------------------------
# A real server


@pytest.fixture
def server_env(settings, migrated) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNJIAN_")}
    return {
        **env,
        "XUNJIAN_DATABASE_URL": settings.database_url,
        "XUNJIAN_SECRET_KEY": settings.secret_key,
    }


@pytest.fixture
def running():
    started: list[Server] = []

    def start(env: dict, **options) -> Server:
        server = Server(env, **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


async def _login(client: httpx.AsyncClient, user, **headers) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"username": user.username, "password": user.password},
        headers=headers,
    )


def _session_cookie(response: httpx.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert cookies, response.text
    return cookies[0].lower()


async def test_serve_tls_is_trusted_through_the_local_ca_only(
    server_env, running, make_user, tmp_path
):
    user = await make_user("patrol")
    server = running(server_env, tls=True, data_dir=tmp_path)
    assert server.url.startswith("https://")
    # `serve --tls` made the certificates on first use, with private keys.
    assert _stat_mode(tmp_path / "tls" / "server.key") == 0o600

    async with httpx.AsyncClient(base_url=server.url, verify=server.trusting_context()) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        login = await _login(client, user)
        assert login.status_code == 200
        assert "; secure" in _session_cookie(login)  # HTTPS → the session cookie is Secure
        ca = await client.get("/ca.crt")
        assert ca.content == tls.ca_der(tmp_path)
        page = await client.get("/ca")
        assert "https://" in page.text and "/ca</code>" in page.text

    # The same request from a client that does not trust the local CA is refused.
    async with httpx.AsyncClient(base_url=server.url) as stranger:
        with pytest.raises(httpx.ConnectError) as refused:
            await stranger.get("/healthz")
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    insecure = ssl.create_default_context()
    async with httpx.AsyncClient(base_url=server.url, verify=insecure) as stranger:
        with pytest.raises(httpx.ConnectError):
            await stranger.get("/healthz")


async def test_a_real_certificate_from_the_settings(server_env, running, make_user, tmp_path):
    # A certificate made elsewhere (here: by the local CA in another directory) named by path.
    elsewhere = tls.ensure_certificates(tmp_path / "issued", names=["localhost", "127.0.0.1"])
    env = {
        **server_env,
        "XUNJIAN_TLS": "true",
        "XUNJIAN_TLS_CERT": str(elsewhere.files.cert),
        "XUNJIAN_TLS_KEY": str(elsewhere.files.key),
    }
    data_dir = tmp_path / "data"
    server = running(env, tls=True, data_dir=data_dir, flag=False, ca=elsewhere.files.ca_cert)
    async with httpx.AsyncClient(base_url=server.url, verify=server.trusting_context()) as client:
        login = await _login(client, await make_user("patrol"))
        assert login.status_code == 200 and "; secure" in _session_cookie(login)
    # It served the given files and made no local CA of its own.
    assert not (data_dir / "tls").exists()


async def test_forwarded_headers_only_from_trusted_proxies(
    server_env, running, make_user, tmp_path
):
    from server.tables.accounts import LoginAttempt

    user = await make_user("patrol")
    trusted = running(
        {**server_env, "XUNJIAN_TRUSTED_PROXIES": "127.0.0.0/8, 10.0.0.5"},
        tls=False,
        data_dir=tmp_path / "trusted",
    )
    untrusted = running(
        {**server_env, "XUNJIAN_TRUSTED_PROXIES": "10.0.0.5"},
        tls=False,
        data_dir=tmp_path / "untrusted",
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

    async with httpx.AsyncClient(base_url=trusted.url) as client:
        login = await _login(client, user, **forwarded)
        assert login.status_code == 200
        assert "; secure" in _session_cookie(login)  # the proxy said https
        plain = await _login(client, user)
        assert "; secure" not in _session_cookie(plain)
        wrong = f"nobody-{uuid.uuid4().hex[:8]}"
        await client.post(
            "/api/auth/login", json={"username": wrong, "password": "x"}, headers=forwarded
        )
    async with httpx.AsyncClient(base_url=untrusted.url) as client:
        login = await _login(client, user, **forwarded)
        assert login.status_code == 200
        assert "; secure" not in _session_cookie(login)  # not from a trusted proxy: ignored
        ignored = f"nobody-{uuid.uuid4().hex[:8]}"
        await client.post(
            "/api/auth/login", json={"username": ignored, "password": "x"}, headers=forwarded
        )

    # The login throttle counts the phone's address behind a trusted proxy, the peer otherwise.
    rows = await LoginAttempt.select(LoginAttempt.username, LoginAttempt.address).where(
        LoginAttempt.username.is_in([wrong, ignored])
    )
    addresses = {row["username"]: row["address"] for row in rows}
    assert addresses == {wrong: "203.0.113.7", ignored: "127.0.0.1"}


# ---------------------------------------------------------------------------------------------
# Settings


def test_tls_and_proxy_settings(tmp_path):
    from server.settings import Settings, SettingsError

    base = {"XUNJIAN_DATA_DIR": str(tmp_path), "XUNJIAN_SECRET_KEY": "k" * 32}
    plain = Settings.from_env(base)
    assert not plain.tls and plain.trusted_proxies == () and plain.base_url.startswith("http://")
    on = Settings.from_env({**base, "XUNJIAN_TLS": "true", "XUNJIAN_PORT": "8443"})
    assert on.tls and on.base_url == "https://localhost:8443"
    proxies = Settings.from_env({**base, "XUNJIAN_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/24 ,"})
    assert proxies.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/24")
    for bad in (
        {"XUNJIAN_TRUSTED_PROXIES": "proxy.lan"},
        {"XUNJIAN_TLS_CERT": str(tmp_path / "cert.pem")},  # a certificate without its key
        {"XUNJIAN_TLS": "sometimes"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({**base, **bad})
