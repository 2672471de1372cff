"""VNPay checksums against every VNPay vector in the shared reference (section 4)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from payhub.gateways.vnpay import signing

RETURN_QUERY = (
    "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14422574&vnp_CardType=ATM"
    "&vnp_OrderInfo=Thanh+toan+don+hang+2024-05-21T02%3A17%3A31.249Z&vnp_PayDate=20240521091806"
    "&vnp_ResponseCode=00&vnp_TmnCode=TEST_TMN_CODE&vnp_TransactionNo=14422574"
    "&vnp_TransactionStatus=00&vnp_TxnRef=1716257871703"
)
PAY_QUERY = (
    "vnp_Amount=1000000&vnp_Command=pay&vnp_CreateDate=20240521091500&vnp_CurrCode=VND"
    "&vnp_ExpireDate=20240521093000&vnp_IpAddr=127.0.0.1&vnp_Locale=vn"
    "&vnp_OrderInfo=Thanh+toan+don+hang+ORDER-0001&vnp_OrderType=other"
    "&vnp_ReturnUrl=https%3A%2F%2Fmerchant.example%2Fvnpay%2Freturn&vnp_TmnCode=TEST_TMN_CODE"
    "&vnp_TxnRef=ORDER-0001&vnp_Version=2.1.0"
)
CANCEL_QUERY = (
    "vnp_Amount=1000000&vnp_BankCode=VNPAY&vnp_CardType=QRCODE"
    "&vnp_OrderInfo=Thanh+toan+don+hang+ORDER-0001&vnp_PayDate=20240521092000"
    "&vnp_ResponseCode=24&vnp_TmnCode=TEST_TMN_CODE&vnp_TransactionNo=0"
    "&vnp_TransactionStatus=02&vnp_TxnRef=ORDER-0001"
)


def decoded(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


@pytest.mark.parametrize(
    ("query", "secret", "expected"),
    [
        pytest.param(
            RETURN_QUERY,
            "test_secret",
            "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361d"
            "bf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895",
            id="lehuygiang28/vnpay test-fixtures.ts DEFAULT_RETURN_QUERY_INPUT",
        ),
        pytest.param(
            RETURN_QUERY.replace("vnp_ResponseCode=00", "vnp_ResponseCode=99"),
            "test_secret",
            "503194f6d93b57b357b2d1d09742565e67e86d771352c5dca4fc8d39df3d392c"
            "6b3809add9405f97cfb9631f445e36c80656cfbf47eac67d97fa165865c13e1b",
            id="lehuygiang28/vnpay verify-return-url.test.ts ResponseCode 99",
        ),
        pytest.param(
            "vnp_Amount=10000&vnp_OrderInfo=Payment+for+order+%231234567890&vnp_TnxRef=1234567890",
            "YOUR_SECURE_SECRET",
            "7bb8160a5d2085a85b3267817a40ee4f770a335282f19714726e6fc6f28a64c7"
            "5a1e7e9c1aa96f3cbda5ce44095088fb4cb2af66c596d2f655b0b53966312089",
            id="lehuygiang28/vnpay payment-util.test.ts",
        ),
        pytest.param(
            PAY_QUERY,
            "test_secret",
            "18003c5054c8fbf585b73bdfc310e5ce51bca35832dbb9251f9e841d106b52c5"
            "c8679acd6d1ea8d6aafc56682b82704ae1b7108e24b000ff0e24a9bbc81eb4e5",
            id="reference 4: pay URL, npm vnpay 2.5.0 buildPaymentUrl",
        ),
        pytest.param(
            CANCEL_QUERY,
            "test_secret",
            "6bb220d79f0d6e29ab45081b6092d7ed4bd16226b8af83b1cec34c7c57b99e3f"
            "a3346ed914e348d3f474c05731971d1027ec04fd3f5c56a8636247c8b84d6079",
            id="reference 4: buyer-cancel IPN (computed)",
        ),
    ],
)
def test_query_vectors(query: str, secret: str, expected: str) -> None:
    params = decoded(query)
    # Decoding then re-encoding gives back exactly the string VNPay hashed.
    assert signing.canonical_query(params) == query
    assert signing.hmac_sha512(secret, query) == expected
    assert signing.sign_query(secret, params) == expected
    assert signing.verify_query(secret, params, expected)
    assert signing.verify_query(secret, params, expected.upper())


PIPE_VECTORS = [
    pytest.param(
        "REQ20240521100000|2.1.0|querydr|TEST_TMN_CODE|ORDER-0001|20240521091500|20240521100000"
        "|127.0.0.1|Truy van GD ORDER-0001",
        signing.QUERYDR_REQUEST_FIELDS,
        "8be41e9a79d0fafb0d7de252abb19f3c06ada5185a40e63281fd00d15f778a6f"
        "0188dee7a8e114f34e81174f8c73b74425398a1be48c288900fcccca7dbc65d8",
        id="reference 4: querydr request captured from npm vnpay 2.5.0",
    ),
    pytest.param(
        "4f8e2a3b9c|querydr|00|QueryDR Success|TEST_TMN_CODE|ORDER-0001|1000000|NCB"
        "|20240521091806|14422574|01|00|Thanh toan don hang ORDER-0001||",
        signing.QUERYDR_RESPONSE_FIELDS,
        "93b309c57175a559a93d1dfd12d6900c4660fac908bcb7df05df2b75aac482b6"
        "f4c7d71c39ac95d6fb3e5b88a6299ec2b6ee9f61285624f159b4c219efbc645e",
        id="reference 4: querydr response accepted by npm vnpay 2.5.0",
    ),
    pytest.param(
        "RFD20240521100500|2.1.0|refund|TEST_TMN_CODE|02|ORDER-0001|1000000|14422574"
        "|20240521091500|admin|20240521100500|127.0.0.1|Hoan tien GD ORDER-0001",
        signing.REFUND_REQUEST_FIELDS,
        "d28c021055ddbfa815ce0f7e29908440055c46f5fa72f8a576e167fcbc49160e"
        "af7e99ef221c95b69de33dc4def451e15d61626a09e2a3c15ac9d9dd345ec7be",
        id="reference 4: refund request captured from npm vnpay 2.5.0",
    ),
    pytest.param(
        "5a1b|refund|00|Refund success|TEST_TMN_CODE|ORDER-0001|1000000|NCB|20240521100000"
        "|14422575|02|05|Hoan tien GD ORDER-0001",
        signing.REFUND_RESPONSE_FIELDS,
        "d8790b7e2bed1388a8546e411c7ac1ceef1c08c6b6f3c8b0efbc48473e174e22"
        "5b6f817553b77043f78477a0cf589c01eedc48345313bd2ef05c18acf54d4f8d",
        id="reference 4: refund response (documented formula)",
    ),
]


@pytest.mark.parametrize(("line", "fields", "expected"), PIPE_VECTORS)
def test_pipe_vectors(line: str, fields: tuple[str, ...], expected: str) -> None:
    values = line.split("|")
    assert len(values) == len(fields)
    # Absent fields (the promotion pair) are left out of the dict: they hash as "".
    data = {name: value for name, value in zip(fields, values, strict=True) if value != ""}
    assert signing.pipe_string(data, fields) == line
    assert signing.sign_fields("test_secret", data, fields) == expected
    assert signing.verify_fields("test_secret", data, fields, expected.upper())


def test_pipe_values_may_be_numbers_as_npm_sends_them() -> None:
    data = {
        "vnp_RequestId": "REQ20240521100000",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": "TEST_TMN_CODE",
        "vnp_TxnRef": "ORDER-0001",
        "vnp_TransactionDate": 20240521091500,
        "vnp_CreateDate": 20240521100000,
        "vnp_IpAddr": "127.0.0.1",
        "vnp_OrderInfo": "Truy van GD ORDER-0001",
    }
    assert signing.sign_fields("test_secret", data, signing.QUERYDR_REQUEST_FIELDS).startswith(
        "8be41e9a79d0fafb"
    )


def test_hash_fields_empty_values_and_foreign_keys_are_not_hashed() -> None:
    params = decoded(RETURN_QUERY)
    expected = signing.sign_query("test_secret", params)
    noisy = {
        **params,
        "vnp_SecureHash": "whatever",
        "vnp_SecureHashType": "HmacSHA512",
        "vnp_BankTranNo": params["vnp_BankTranNo"],
        "vnp_PromotionCode": "",
        "account": "abc",
    }
    assert signing.sign_query("test_secret", noisy) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"vnp_Amount": "2000000"},
        {"vnp_ResponseCode": "24"},
        {"vnp_TxnRef": "1716257871704"},
    ],
)
def test_any_changed_field_fails_verification(change: dict[str, str]) -> None:
    params = decoded(RETURN_QUERY)
    good = signing.sign_query("test_secret", params)
    assert not signing.verify_query("test_secret", {**params, **change}, good)


def test_wrong_secret_and_garbage_hash_fail() -> None:
    params = decoded(RETURN_QUERY)
    good = signing.sign_query("test_secret", params)
    assert not signing.verify_query("other_secret", params, good)
    assert not signing.verify_query("test_secret", params, "")
    assert not signing.verify_query("test_secret", params, "zz" * 64)
    assert not signing.verify_query("test_secret", params, "ệ" * 10)


def test_space_is_plus_and_utf8_is_uppercase_percent() -> None:
    assert signing.canonical_query({"vnp_OrderInfo": "Thanh toán #1"}) == (
        "vnp_OrderInfo=Thanh+to%C3%A1n+%231"
    )
