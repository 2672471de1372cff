"""MoMo signing against the reference vectors.

M1–M7 are NOT published by MoMo: they were computed in
reference/gateways-momo-toyyibpay-zalopay.md §4.5 from the documented formulas (§1.3, §1.5,
§1.6, §1.7, §1.8) with MoMo's public sandbox secretKey. MoMo's own published examples do
not reproduce with any known key, so these are regression vectors for the formulas.
"""

from __future__ import annotations

import pytest

from payhub.gateways.momo import signing

SECRET = "K951B6PE1waDMi640xX08PD3vg6EkVlz"  # public sandbox key of partner MOMO (M-SAMPLE)
ACCESS = "F8BBA842ECF85"
WEBHOOK = "https://webhook.site/b3088a6a-2d17-4f8d-a383-71389a6c600b"

M2_VALUES = {
    "accessKey": ACCESS,
    "amount": "50000",
    "extraData": "",
    "message": "Successful.",
    "orderId": "MOMO1700000000000",
    "orderInfo": "pay with MoMo",
    "orderType": "momo_wallet",
    "partnerCode": "MOMO",
    "payType": "qr",
    "requestId": "MOMO1700000000000",
    "responseTime": "1700000060000",
    "resultCode": "0",
    "transId": "4088878653",
}

VECTORS = [
    pytest.param(
        signing.CREATE_FIELDS,
        {
            "accessKey": ACCESS,
            "amount": "50000",
            "extraData": "",
            "ipnUrl": WEBHOOK,
            "orderId": "MOMO1700000000000",
            "orderInfo": "pay with MoMo",
            "partnerCode": "MOMO",
            "redirectUrl": WEBHOOK,
            "requestId": "MOMO1700000000000",
            "requestType": "captureWallet",
        },
        f"accessKey={ACCESS}&amount=50000&extraData=&ipnUrl={WEBHOOK}&orderId=MOMO1700000000000"
        f"&orderInfo=pay with MoMo&partnerCode=MOMO&redirectUrl={WEBHOOK}"
        "&requestId=MOMO1700000000000&requestType=captureWallet",
        "c8f5e82fb738d09e52d0d2405d27ee1de145c92488f787f72bbc49cc4d06da52",
        id="M1-create(reference §4.5, computed from §1.3 formula)",
    ),
    pytest.param(
        signing.RESULT_FIELDS,
        M2_VALUES,
        f"accessKey={ACCESS}&amount=50000&extraData=&message=Successful.&orderId=MOMO1700000000000"
        "&orderInfo=pay with MoMo&orderType=momo_wallet&partnerCode=MOMO&payType=qr"
        "&requestId=MOMO1700000000000&responseTime=1700000060000&resultCode=0&transId=4088878653",
        "3a8143fa6cd64cec9ad44da05c509ce972e73ee349287f48f08edd59327b2652",
        id="M2-ipn(reference §4.5, computed from §1.5 formula)",
    ),
    pytest.param(
        signing.RESULT_FIELDS,
        M2_VALUES | {"message": "Thành công.", "orderInfo": "Thanh toán qua MoMo"},
        f"accessKey={ACCESS}&amount=50000&extraData=&message=Thành công.&orderId=MOMO1700000000000"
        "&orderInfo=Thanh toán qua MoMo&orderType=momo_wallet&partnerCode=MOMO&payType=qr"
        "&requestId=MOMO1700000000000&responseTime=1700000060000&resultCode=0&transId=4088878653",
        "890f9c108863a7611909de8044f4b56f251a1dbf1cd660ff81734302f413a441",
        id="M3-ipn-utf8(reference §4.5, computed from §1.5 formula, UTF-8 text)",
    ),
    pytest.param(
        signing.QUERY_FIELDS,
        {
            "accessKey": ACCESS,
            "orderId": "MOMO1700000000000",
            "partnerCode": "MOMO",
            "requestId": "MOMO1700000000001",
        },
        f"accessKey={ACCESS}&orderId=MOMO1700000000000&partnerCode=MOMO"
        "&requestId=MOMO1700000000001",
        "a26066ed14201c6eba262240cd1472f31ffe9b8b7af1c7131791b9cef097464a",
        id="M4-query(reference §4.5, computed from §1.6 formula)",
    ),
    pytest.param(
        signing.REFUND_FIELDS,
        {
            "accessKey": ACCESS,
            "amount": "50000",
            "description": "",
            "orderId": "RF1700000000002",
            "partnerCode": "MOMO",
            "requestId": "RF1700000000002",
            "transId": "4088878653",
        },
        f"accessKey={ACCESS}&amount=50000&description=&orderId=RF1700000000002&partnerCode=MOMO"
        "&requestId=RF1700000000002&transId=4088878653",
        "f8b63cf8fadc2612e39a5ae42646f720685cd25102cf3d48124274d86f663644",
        id="M5-refund(reference §4.5, computed from §1.7 formula)",
    ),
    pytest.param(
        signing.CONFIRM_FIELDS,
        {
            "accessKey": ACCESS,
            "amount": "50000",
            "description": "",
            "orderId": "MOMO1700000000000",
            "partnerCode": "MOMO",
            "requestId": "CF1700000000003",
            "requestType": "capture",
        },
        f"accessKey={ACCESS}&amount=50000&description=&orderId=MOMO1700000000000"
        "&partnerCode=MOMO&requestId=CF1700000000003&requestType=capture",
        "bec94e2b6faa22025fbfe59b3754afa0cc769d8c71709c9dbb67ff9dc9e120b7",
        id="M6-confirm(reference §4.5, computed from §1.8 formula)",
    ),
    pytest.param(
        signing.CREATE_RESPONSE_FIELDS,
        {
            "accessKey": ACCESS,
            "amount": "50000",
            "orderId": "MOMO1700000000000",
            "partnerCode": "MOMO",
            "payUrl": "https://test-payment.momo.vn/v2/gateway/pay?t=abc",
            "requestId": "MOMO1700000000000",
            "responseTime": "1700000001000",
            "resultCode": "0",
        },
        f"accessKey={ACCESS}&amount=50000&orderId=MOMO1700000000000&partnerCode=MOMO"
        "&payUrl=https://test-payment.momo.vn/v2/gateway/pay?t=abc&requestId=MOMO1700000000000"
        "&responseTime=1700000001000&resultCode=0",
        "4c6ee182e494e77e9e346a65650e8baaaf890b55376b2a5bc9c24990b63c241e",
        id="M7-create-response(reference §4.5, computed from §1.3 response formula)",
    ),
]


@pytest.mark.parametrize(("fields", "values", "raw", "expected"), VECTORS)
def test_vector(fields: tuple[str, ...], values: dict[str, str], raw: str, expected: str) -> None:
    assert signing.raw_signature(fields, values) == raw
    assert signing.sign(SECRET, raw) == expected
    assert signing.verify(SECRET, raw, expected)
    assert signing.verify(SECRET, raw, expected.upper())


def test_utf8_text_is_signed_as_utf8_bytes_not_ascii() -> None:
    # M3 vs M2: only the Vietnamese text differs; an ASCII-only encoder (MoMo's python
    # sample) could not even produce M3.
    raw = signing.raw_signature(
        signing.RESULT_FIELDS,
        M2_VALUES | {"message": "Thành công.", "orderInfo": "Thanh toán qua MoMo"},
    )
    with pytest.raises(UnicodeEncodeError):
        raw.encode("ascii")
    assert signing.sign(SECRET, raw) == (
        "890f9c108863a7611909de8044f4b56f251a1dbf1cd660ff81734302f413a441"
    )


def test_verify_rejects_a_changed_value_and_a_wrong_key() -> None:
    raw = signing.raw_signature(signing.RESULT_FIELDS, M2_VALUES)
    good = signing.sign(SECRET, raw)
    tampered = signing.raw_signature(signing.RESULT_FIELDS, M2_VALUES | {"amount": "50001"})
    assert not signing.verify(SECRET, tampered, good)
    assert not signing.verify("at67qH6mk8w5Y1nAyMoYKMWACiEi2bsa", raw, good)
    assert not signing.verify(SECRET, raw, "")


def test_raw_signature_requires_every_field() -> None:
    values = dict(M2_VALUES)
    del values["payType"]
    with pytest.raises(KeyError):
        signing.raw_signature(signing.RESULT_FIELDS, values)


def test_mask_access_key_hides_only_the_access_key() -> None:
    raw = f"accessKey={ACCESS}&amount=175000&requestType=captureWallet"
    assert signing.mask_access_key(raw) == "accessKey=*****&amount=175000&requestType=captureWallet"
