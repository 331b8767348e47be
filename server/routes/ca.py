"""The local CA for phones: ``/ca`` explains how to install it (Chinese first), ``/ca.crt`` and
``/ca.mobileconfig`` hand it over. No login: a phone needs the CA before it can use the app.

The page is plain server-rendered HTML (no app shell, no service worker, no script), so it opens on
any phone, over http or over https after the one-time certificate warning.

``/ca.crt`` is DER: Android's certificate installer and iOS both take DER, and Android wants the
``.crt`` name for a CA certificate. ``/ca.mobileconfig`` wraps the same certificate in an Apple
configuration profile (``com.apple.security.root``), which Safari hands straight to Settings.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import plistlib
import uuid
from urllib.parse import urlsplit

from litestar import Request, Response, get

from server import tls

CA_FILE_NAME = "xunjian-ca.crt"
NO_CACHE = {"Cache-Control": "no-cache"}

NOT_CONFIGURED = (
    "本服务器没有本地根证书：未启用 HTTPS（xunjian serve --tls），也未运行 xunjian cert。"
    "使用正式证书或反向代理时，手机无需安装任何证书。",
    "This server has no local CA: HTTPS is off (xunjian serve --tls) and `xunjian cert` has not "
    "been run. With a real certificate or a reverse proxy, phones need nothing installed.",
)


def _ca(request: Request):
    settings = request.app.state.settings
    path = tls.tls_files(settings.data_dir).ca_cert
    if not path.exists():
        return None
    return tls.load_certificate(path)


def _not_found(kind: str) -> Response:
    zh, en = NOT_CONFIGURED
    if kind == "html":
        body = _page(
            "没有根证书 / No CA", f"<p>{html.escape(zh)}</p><p lang='en'>{html.escape(en)}</p>"
        )
        return Response(body, status_code=404, media_type="text/html; charset=utf-8")
    return Response(f"{zh}\n{en}\n", status_code=404, media_type="text/plain; charset=utf-8")


def _phone_url(request: Request) -> str:
    """This page's URL as a phone on the LAN reaches it (not localhost)."""
    parts = urlsplit(str(request.url))
    host = parts.hostname or "localhost"
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if loopback:
        addresses = [a for a in tls.lan_addresses() if ipaddress.ip_address(a).version == 4]
        if addresses:
            host = addresses[0]
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/ca"


def _qr_svg(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg") :]


STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;padding:16px;line-height:1.55;
 color:#1b1f23;background:#f6f7f9;max-width:720px;margin:auto}
h1{font-size:1.4rem;margin:.2em 0 .6em}h2{font-size:1.15rem;margin:1.4em 0 .4em}
.en{color:#57606a;font-size:.92em}
section{background:#fff;border-radius:12px;padding:12px 16px;margin:12px 0;box-shadow:0 1px 2px #0002}
ol{padding-left:1.4em}li{margin:.5em 0}
.button{display:block;text-align:center;background:#0b63c5;color:#fff;text-decoration:none;
 font-size:1.1rem;padding:14px;border-radius:10px;margin:10px 0;min-height:24px}
.fingerprint{font-family:ui-monospace,monospace;word-break:break-all;font-size:.95rem;
 background:#eef1f4;padding:8px;border-radius:8px}
.qr svg{width:220px;height:220px;display:block;margin:8px auto;background:#fff}
.path{font-weight:600}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def render_page(request: Request, certificate) -> str:
    name = certificate.subject.rfc4514_string()
    common_name = next(
        (a.value for a in certificate.subject if a.oid.dotted_string == "2.5.4.3"), name
    )
    fingerprint = tls.fingerprint(certificate)
    until = certificate.not_valid_after_utc.date().isoformat()
    url = _phone_url(request)
    e = html.escape
    body = f"""
<h1>安装巡检根证书 <span class="en">Install the Xunjian certificate</span></h1>
<p>手机的相机和离线功能只能在安全连接（HTTPS）下使用。每部手机只需安装一次本服务器的根证书，之后打开巡检不会再有安全警告。</p>
<p class="en">A phone's camera and offline mode need a secure (HTTPS) connection. Install this
server's certificate once on each phone; after that the app opens without a warning.</p>

<section class="qr" data-testid="ca-qr">
<p>用手机扫描，在手机上打开本页：<br><span class="en">Scan with the phone to open this page on it:</span></p>
{_qr_svg(url)}
<p style="text-align:center"><code data-testid="ca-url">{e(url)}</code></p>
<p>如果手机提示"连接不是私密连接"，这是正常的（证书还没装）：点 高级 → 继续前往，只需这一次。<br>
<span class="en">If the phone warns that the connection is not private, that is expected before the
certificate is installed: tap Advanced → Proceed, this once.</span></p>
</section>

<section>
<p>证书名称 / name: <b data-testid="ca-name">{e(common_name)}</b><br>
有效期至 / valid until: {e(until)}</p>
<p>SHA-256 指纹（安装时核对，必须完全一致）<br><span class="en">SHA-256 fingerprint (compare it
when installing; it must match exactly):</span></p>
<p class="fingerprint" data-testid="ca-fingerprint">{e(fingerprint)}</p>
</section>

<section data-testid="ca-android">
<h2>安卓手机 <span class="en">Android</span></h2>
<a class="button" href="/ca.crt" data-testid="ca-download">下载根证书 / Download the certificate</a>
<ol>
<li>点上面的按钮，保存文件 <code>{CA_FILE_NAME}</code>。<br>
<span class="en">Tap the button above and keep the file {CA_FILE_NAME}.</span></li>
<li>打开 <span class="path">设置 → 安全 → 加密与凭据 → 安装证书 → CA 证书</span>。各品牌的菜单名略有不同，可在设置里搜索"证书"。<br>
<span class="en">Open Settings → Security → Encryption &amp; credentials → Install a certificate →
CA certificate. Makers name the menus a little differently: search Settings for
"certificate".</span></li>
<li>点"仍然安装"，选择下载的 <code>{CA_FILE_NAME}</code>，按提示输入锁屏密码。<br>
<span class="en">Tap "Install anyway", pick {CA_FILE_NAME} and confirm with the screen lock.</span></li>
<li>在 <span class="path">加密与凭据 → 受信任的凭据 → 用户</span> 中能看到"{e(common_name)}"，点开核对 SHA-256 指纹。<br>
<span class="en">It is listed under Trusted credentials → User; open it to compare the SHA-256
fingerprint.</span></li>
<li>用 Chrome 打开巡检的 https:// 地址，地址栏不再有警告即完成。<br>
<span class="en">Open Xunjian's https:// address in Chrome: no warning means it worked.</span></li>
</ol>
</section>

<section data-testid="ca-ios">
<h2>苹果手机 iPhone / iPad <span class="en">iOS</span></h2>
<a class="button" href="/ca.mobileconfig" data-testid="ca-download-ios">下载描述文件 / Download the profile</a>
<ol>
<li>用 Safari 打开本页，点上面的按钮，再点"允许"。<br>
<span class="en">Open this page in Safari, tap the button above, then Allow.</span></li>
<li>打开 <span class="path">设置 → 已下载描述文件 → 安装</span>，输入密码，再点"安装"。<br>
<span class="en">Open Settings → Profile Downloaded → Install, enter the passcode, tap Install
again.</span></li>
<li>打开 <span class="path">设置 → 通用 → 关于本机 → 证书信任设置</span>，为"{e(common_name)}"<b>打开完全信任</b>，点"继续"。<br>
<span class="en">Open Settings → General → About → Certificate Trust Settings and turn on full
trust for "{e(common_name)}". Without this step Safari still warns.</span></li>
<li>用 Safari 打开巡检的 https:// 地址，不再有警告即完成。<br>
<span class="en">Open Xunjian's https:// address in Safari: no warning means it worked.</span></li>
</ol>
</section>

<section>
<p>只安装本页来源可靠的证书：它能为本服务器的地址签发证书。换服务器或重新生成根证书后需重新安装。<br>
<span class="en">Only install a certificate from a server you run: it vouches for this server's
addresses. A new server or a new CA needs installing again.</span></p>
</section>
"""
    return _page("安装巡检根证书 / Install the Xunjian certificate", body)


@get("/ca", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def ca_page(request: Request) -> Response:
    certificate = _ca(request)
    if certificate is None:
        return _not_found("html")
    return Response(
        render_page(request, certificate), media_type="text/html; charset=utf-8", headers=NO_CACHE
    )


@get("/ca.crt", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def ca_certificate(request: Request) -> Response:
    der = tls.ca_der(request.app.state.settings.data_dir)
    if der is None:
        return _not_found("text")
    return Response(
        der,
        media_type="application/x-x509-ca-cert",
        headers={
            **NO_CACHE,
            "Content-Disposition": f'attachment; filename="{CA_FILE_NAME}"',
        },
    )


def mobileconfig(der: bytes, fingerprint: str, display_name: str) -> bytes:
    """An Apple configuration profile holding the CA (com.apple.security.root)."""
    stable = fingerprint.replace(":", "").lower()
    namespace = uuid.UUID("6f1d2c43-9a3e-4a57-9d0b-5f7f0b4d2a11")
    profile = {
        "PayloadContent": [
            {
                "PayloadCertificateFileName": CA_FILE_NAME,
                "PayloadContent": der,
                "PayloadDescription": "巡检 Xunjian 本地根证书 / local CA",
                "PayloadDisplayName": display_name,
                "PayloadIdentifier": f"xunjian.ca.{stable[:16]}.certificate",
                "PayloadType": "com.apple.security.root",
                "PayloadUUID": str(uuid.uuid5(namespace, stable + ".certificate")).upper(),
                "PayloadVersion": 1,
            }
        ],
        "PayloadDescription": "安装后到 设置 → 通用 → 关于本机 → 证书信任设置 打开完全信任。",
        "PayloadDisplayName": display_name,
        "PayloadIdentifier": f"xunjian.ca.{stable[:16]}",
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(namespace, stable)).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


@get("/ca.mobileconfig", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def ca_profile(request: Request) -> Response:
    certificate = _ca(request)
    if certificate is None:
        return _not_found("text")
    der = tls.ca_der(request.app.state.settings.data_dir)
    common_name = next(
        (a.value for a in certificate.subject if a.oid.dotted_string == "2.5.4.3"),
        "巡检 Xunjian",
    )
    return Response(
        mobileconfig(der, tls.fingerprint(certificate), common_name),
        media_type="application/x-apple-aspen-config",
        headers={
            **NO_CACHE,
            "Content-Disposition": 'attachment; filename="xunjian-ca.mobileconfig"',
        },
    )


CA_HANDLERS = [ca_page, ca_certificate, ca_profile]
