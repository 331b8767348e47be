"""Label signatures and the label URL: round-trips, tamper detection, a total parser."""

from __future__ import annotations

import string

import pytest
import qrcode
from hypothesis import assume, example, given
from hypothesis import strategies as st

from qr.signing import SIGNATURE_LENGTH, LabelPayload, label_url, parse_label, sign, verify

pytestmark = pytest.mark.unit

secrets = st.binary(min_size=1, max_size=64)
site_codes = st.text(min_size=0, max_size=20)
codes = st.text(alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=64)
versions = st.integers(min_value=0, max_value=10**9)
hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True)
base_urls = st.builds(
    lambda scheme, host, port, prefix, slash: (
        f"{scheme}://{host}{port}{prefix}{'/' if slash else ''}"
    ),
    st.sampled_from(["http", "https"]),
    hosts,
    st.sampled_from(["", ":8080", ":443"]),
    st.sampled_from(["", "/xunjian", "/a/b"]),
    st.booleans(),
)
B64URL = string.ascii_letters + string.digits + "-_"


@given(secrets, site_codes, codes, versions)
def test_sign_verify_round_trip(secret, site_code, code, version):
    signature = sign(secret, site_code, code, version)
    assert len(signature) == SIGNATURE_LENGTH
    assert set(signature) <= set(B64URL)
    assert verify(secret, site_code, code, version, signature)


@given(secrets, site_codes, codes, versions, st.data())
def test_any_change_fails_verification(secret, site_code, code, version, data):
    signature = sign(secret, site_code, code, version)
    other_site = data.draw(site_codes.filter(lambda s: s != site_code), label="other_site")
    other_code = data.draw(codes.filter(lambda c: c != code), label="other_code")
    other_version = data.draw(versions.filter(lambda v: v != version), label="other_version")
    other_secret = data.draw(secrets.filter(lambda s: s != secret), label="other_secret")
    assert not verify(secret, other_site, code, version, signature)
    assert not verify(secret, site_code, other_code, version, signature)
    assert not verify(secret, site_code, code, other_version, signature)
    assert not verify(other_secret, site_code, code, version, signature)
    # Any single-character change to the signature itself.
    i = data.draw(st.integers(0, len(signature) - 1), label="index")
    ch = data.draw(st.sampled_from(B64URL).filter(lambda c: c != signature[i]), label="char")
    assert not verify(secret, site_code, code, version, signature[:i] + ch + signature[i + 1 :])


def test_field_boundaries_do_not_collide():
    secret = b"s3cret"
    assert sign(secret, "A", "BC", 1) != sign(secret, "AB", "C", 1)
    assert sign(secret, "S", "A1", 1) != sign(secret, "S", "A", 11)
    assert sign(secret, "", "AB", 1) != sign(secret, "A", "B", 1)


def test_signature_is_deterministic_and_keyed():
    assert sign(b"k", "S", "F-1", 3) == sign(b"k", "S", "F-1", 3)
    assert sign(b"k", "S", "F-1", 3) != sign(b"k2", "S", "F-1", 3)


@pytest.mark.parametrize(
    "signature", ["", "short", "x" * 12, "AAAAAAAAAA=", None, 12345678901, "AAAAAAAAAA\n"]
)
def test_verify_rejects_malformed_signatures(signature):
    assert verify(b"k", "S", "F-1", 1, signature) is False


@pytest.mark.parametrize("version", [-1, True, 1.0, "1", 10**18])
def test_verify_rejects_bad_versions_without_raising(version):
    good = sign(b"k", "S", "F-1", 1)
    assert verify(b"k", "S", "F-1", version, good) is False


def test_sign_rejects_empty_secret():
    with pytest.raises(ValueError):
        sign(b"", "S", "F-1", 1)


@given(base_urls, codes, versions, secrets)
def test_parse_label_round_trips_label_url(base_url, code, version, secret):
    signature = sign(secret, "SITE", code, version)
    url = label_url(base_url, code, version, signature)
    assert parse_label(url) == LabelPayload(code=code, version=version, signature=signature)
    # A scanner may hand the text over with a trailing newline.
    assert parse_label(f"  {url}\n") == LabelPayload(code, version, signature)


def test_label_url_shape_and_qr_budget():
    base = "https://xunjian.example.com.cn/"  # a 30-character base URL, trailing slash
    signature = sign(b"k", "S", "B3-00127", 12)
    url = label_url(base, "B3-00127", 12, signature)
    assert url == f"https://xunjian.example.com.cn/c/B3-00127?v=12&s={signature}"
    # An 8-character code still fits QR version 4 at ECC level M (62 bytes in byte mode).
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    assert qr.version <= 4


@pytest.mark.parametrize(
    ("code", "version", "signature"),
    [
        ("f-1", 1, "AAAAAAAAAAA"),
        ("F 1", 1, "AAAAAAAAAAA"),
        ("", 1, "AAAAAAAAAAA"),
        ("F/1", 1, "AAAAAAAAAAA"),
        ("F-1", -1, "AAAAAAAAAAA"),
        ("F-1", 1, "AAAA"),
        ("F-1", 1, "AAAAAAAAAA&"),
    ],
)
def test_label_url_refuses_parts_it_could_not_parse_back(code, version, signature):
    with pytest.raises(ValueError):
        label_url("https://x.example", code, version, signature)


@given(st.text())
@example("")
@example("http://[::1/c/A?v=1&s=AAAAAAAAAAA")
@example("https://x.example:99999/c/A?v=1&s=AAAAAAAAAAA")
@example("https://x.example/c/A?v=1&s=AAAAAAAAAAA\x00")
def test_parse_label_is_total_on_arbitrary_text(text):
    result = parse_label(text)
    assert result is None or isinstance(result, LabelPayload)


@given(st.text(alphabet=string.printable, max_size=120))
def test_parse_label_is_total_on_url_like_text(tail):
    for prefix in ("https://h.example/c/", "https://h.example/c/F-1?", "http://"):
        result = parse_label(prefix + tail)
        assert result is None or isinstance(result, LabelPayload)


@given(st.binary(max_size=80))
def test_parse_label_is_total_on_decoded_binary(raw):
    result = parse_label(raw.decode("latin-1"))
    assert result is None or isinstance(result, LabelPayload)


@pytest.mark.parametrize("value", [None, b"https://h.example/c/F-1?v=1&s=AAAAAAAAAAA", 42])
def test_parse_label_returns_none_for_non_text(value):
    assert parse_label(value) is None


SIG = "Anw135AfK_Y"


@pytest.mark.parametrize(
    "text",
    [
        "F-1",
        "hello world",
        "https://example.com/",
        "https://example.com/some/page?x=1",
        # missing or broken parts
        "https://h.example/c/F-1",
        f"https://h.example/c/F-1?s={SIG}",
        "https://h.example/c/F-1?v=1",
        f"https://h.example/c/?v=1&s={SIG}",
        f"https://h.example/F-1?v=1&s={SIG}",
        f"https://h.example/x/F-1?v=1&s={SIG}",
        f"https://h.example/c/F-1/?v=1&s={SIG}",
        f"https:///c/F-1?v=1&s={SIG}",
        f"/c/F-1?v=1&s={SIG}",
        f"ftp://h.example/c/F-1?v=1&s={SIG}",
        f"javascript://h.example/c/F-1?v=1&s={SIG}",
        # non-canonical or non-integer versions
        f"https://h.example/c/F-1?v=one&s={SIG}",
        f"https://h.example/c/F-1?v=-1&s={SIG}",
        f"https://h.example/c/F-1?v=+1&s={SIG}",
        f"https://h.example/c/F-1?v=01&s={SIG}",
        f"https://h.example/c/F-1?v=1.0&s={SIG}",
        f"https://h.example/c/F-1?v=\u0661&s={SIG}",
        f"https://h.example/c/F-1?v=&s={SIG}",
        # bad signatures, codes, extra/repeated parameters, encodings
        "https://h.example/c/F-1?v=1&s=short",
        f"https://h.example/c/F-1?v=1&s={SIG}A",
        f"https://h.example/c/F-1?v=1&s={SIG[:-1]}%3D",
        f"https://h.example/c/f-1?v=1&s={SIG}",
        f"https://h.example/c/F%2D1?v=1&s={SIG}",
        f"https://h.example/c/F-1?v=1&v=1&s={SIG}",
        f"https://h.example/c/F-1?v=1&s={SIG}&x=1",
        f"https://h.example/c/F-1?v=1&s={SIG}&",
        f"https://h.example/c/F-1?v=1&s={SIG}#frag",
        f"https://h.example/c/F 1?v=1&s={SIG}",
        f"https://h.example/c/{'A' * 65}?v=1&s={SIG}",
        f"https://h.example/c/F-1?v=1&s={SIG}\x00",
        f"https://h.example/c/F-1?v=1\n&s={SIG}",
    ],
)
def test_parse_label_rejects_text_that_is_not_a_label(text):
    assert parse_label(text) is None


@pytest.mark.parametrize(
    "text",
    [
        f"https://h.example/c/F-1?v=1&s={SIG}",
        f"HTTPS://H.EXAMPLE/c/F-1?s={SIG}&v=1",
        f"http://192.168.1.10:8000/xunjian/c/F-1?v=1&s={SIG}",
        f"https://[::1]/c/F-1?v=1&s={SIG}",
    ],
)
def test_parse_label_accepts_any_host_and_prefix(text):
    assert parse_label(text) == LabelPayload("F-1", 1, SIG)


def test_label_payload_is_frozen():
    payload = LabelPayload("F-1", 1, SIG)
    with pytest.raises(AttributeError):
        payload.code = "X"  # type: ignore[misc]


@given(codes, versions)
def test_round_trip_survives_unrelated_base_path_segments(code, version):
    assume(code != "c")
    signature = sign(b"k", "S", code, version)
    url = label_url("https://h.example/c/OTHER/", code, version, signature)
    assert parse_label(url) == LabelPayload(code, version, signature)
