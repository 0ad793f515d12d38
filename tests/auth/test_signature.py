"""Our canonical request matches the official SDK's signer for any path, query and body, so the
verifier accepts exactly what ``huaweicloudsdkcore`` signs (no I/O: pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st

from ecslite.auth import signature as sig

AK, SK = "TESTAK0000000000", "test-secret-key"
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _sdk(method: str, path: str, query: list[tuple[str, str]], body: bytes) -> SdkRequest:
    req = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=path,
        query_params=list(query),
        header_params={
            "Content-Type": "application/json",
            "X-Project-Id": "p1",
            "X-Sdk-Date": datetime.now(UTC).strftime(sig.DATE_FORMAT),
        },
        body=body,
    )
    Signer(BasicCredentials(AK, SK, "p1")).sign(req)
    return req


def _ours(req: SdkRequest, raw_path: str, body: bytes) -> str:
    parsed = sig.parse_authorization(req.header_params["Authorization"])
    assert parsed is not None
    headers = {k.lower(): v for k, v in req.header_params.items()}
    canonical = sig.canonical_request(
        method=req.method,
        raw_path=raw_path,
        query_string=Signer.process_canonical_query_string(req),
        headers=headers,
        signed_headers=parsed.signed_headers,
        body_hash=sig.payload_hash(body),
    )
    return sig.compute_signature(SK, sig.string_to_sign(headers["x-sdk-date"], canonical))


@settings(max_examples=200, deadline=None)
@given(
    segment=text,
    query=st.lists(st.tuples(text.filter(bool), text), max_size=4),
    body=st.binary(max_size=64),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
)
def test_signature_matches_the_sdk(
    segment: str, query: list[tuple[str, str]], body: bytes, method: str
) -> None:
    # The SDK quotes path parameters with safe='' before it signs and sends the path.
    path = f"/v1/p1/cloudservers/{quote(segment, safe='')}"
    req = _sdk(method, path, query, body)
    parsed = sig.parse_authorization(req.header_params["Authorization"])
    assert parsed is not None and parsed.access_key == AK
    assert {"host", "x-sdk-date", "x-project-id"} <= set(parsed.signed_headers)
    assert _ours(req, path, body) == parsed.signature


def test_our_signing_client_matches_the_sdk() -> None:
    date = datetime.now(UTC).strftime(sig.DATE_FORMAT)
    path, body = "/v2/p1/cloudservers/s%201/reinstallos", b'{"os-reinstall": {}}'
    req = _sdk("POST", path, [("limit", "10"), ("name", "a b")], body)
    req.header_params["X-Sdk-Date"] = date
    expected = sig.parse_authorization(_sdk_resign(req, body))
    ours = sig.parse_authorization(
        sig.authorization_header(
            access_key=AK,
            secret_key=SK,
            method="POST",
            raw_path=path,
            query_string="limit=10&name=a%20b",
            headers={
                "Host": "127.0.0.1:8080",
                "Content-Type": "application/json",
                "X-Project-Id": "p1",
                "X-Sdk-Date": date,
            },
            body=body,
        )
    )
    assert ours == expected


def _sdk_resign(req: SdkRequest, body: bytes) -> str:
    headers = {k: v for k, v in req.header_params.items() if k != "Authorization"}
    again = SdkRequest(
        method=req.method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=req.resource_path,
        query_params=req.query_params,
        header_params=headers,
        body=body,
    )
    Signer(BasicCredentials(AK, SK, "p1")).sign(again)
    return str(again.header_params["Authorization"])


def test_malformed_authorization_values_are_rejected() -> None:
    assert sig.parse_authorization("SDK-HMAC-SHA256 Access=A, SignedHeaders=host, Signature=ab")
    for bad in (
        "",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=A",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=Host, Signature=ab",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host;host, Signature=ab",
        "OTHER Access=A, SignedHeaders=host, Signature=ab",
    ):
        assert sig.parse_authorization(bad) is None, bad
