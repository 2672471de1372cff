"""PayOS signatures against every official and documented test vector (reference §4)."""

from __future__ import annotations

import json

import pytest

from payhub.gateways.payos import signing

SDK_KEY = "test_checksum_key"  # payOSHQ/payos-lib-python tests/_crypto/testCases.json
DOCS_KEY = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"

# Payloads copied from payOSHQ/payos-lib-python tests/_crypto/testCases.json (identical to
# payOSHQ/payos-lib-node tests/crypto/testCases.json).
PAID_TRANSACTION = {
    "accountNumber": "0123456789",
    "amount": 2000,
    "counterAccountBankId": "01202001",
    "counterAccountBankName": None,
    "counterAccountName": "NGUYEN VAN A",
    "counterAccountNumber": "9876543210",
    "description": "TRANSACTION DESCRIPTION",
    "reference": "FT-REFERENCE",
    "transactionDateTime": "2025-12-12T09:00:00+07:00",
    "virtualAccountName": None,
    "virtualAccountNumber": None,
}


def link(status: str, **changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "payment-link-id",
        "orderCode": 0,
        "amount": 2000,
        "amountPaid": 0,
        "amountRemaining": 2000,
        "status": status,
        "createdAt": "2025-12-12T09:00:00+07:00",
        "transactions": [],
        "canceledAt": None,
        "cancellationReason": None,
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            # testCases.json "create payment link full fields" (extra fields are not signed)
            {
                "amount": 3300,
                "description": "ABC456",
                "orderCode": 0,
                "cancelUrl": "http://localhost",
                "returnUrl": "http://localhost",
                "buyerName": "buyer name",
                "items": [{"name": "product name", "quantity": 1, "price": 1000}],
                "signature": "",
            },
            "189864813370cdf819974dc3f63c3a93a7e7af0a0d10b21344b14e4f7358999b",
            id="testCases.json:create-full-fields",
        ),
        pytest.param(
            # testCases.json "create payment link with Vietnamese description"
            {
                "amount": 2000,
                "description": "Thanh toán đơn hàng",
                "orderCode": 0,
                "cancelUrl": "http://localhost",
                "returnUrl": "http://localhost",
            },
            "d8b7b0e5d19edfe7b1f53dedeb8d1c7c2b62fabd7eb320dbc514c58f13e9e2c5",
            id="testCases.json:create-vietnamese-description",
        ),
    ],
)
def test_payment_request_vectors(fields: dict[str, object], expected: str) -> None:
    assert signing.sign_payment_request(fields, SDK_KEY) == expected
    assert signing.verify_payment_request(fields, expected, SDK_KEY)
    assert not signing.verify_payment_request({**fields, "amount": 1}, expected, SDK_KEY)


def test_payment_request_docs_vector() -> None:
    # reference §4, computed there and confirmed by the payos 1.1.0 SDK against a stub
    fields = {
        "amount": 10000,
        "cancelUrl": "http://localhost/cancel",
        "description": "DH123",
        "orderCode": 123,
        "returnUrl": "http://localhost/return",
    }
    assert signing.payment_request_string(fields) == (
        "amount=10000&cancelUrl=http://localhost/cancel&description=DH123"
        "&orderCode=123&returnUrl=http://localhost/return"
    )
    assert signing.sign_payment_request(fields, DOCS_KEY) == (
        "5764a01ce0fe3ee5ea5c4461d0aec2b2346b06d37e181dbbd3a9426c6889c127"
    )


def test_payment_request_missing_field_does_not_verify() -> None:
    with pytest.raises(KeyError):
        signing.payment_request_string({"amount": 1})
    assert not signing.verify_payment_request({"amount": 1}, "00", SDK_KEY)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            link("PENDING"),
            "33093364158b143baa9ecd2e705d9a2a5a5d391a3cab7cb0a371588b3731368f",
            id="testCases.json:pending-payment-link",
        ),
        pytest.param(
            link("PAID", amountPaid=2000, amountRemaining=0, transactions=[dict(PAID_TRANSACTION)]),
            "6af5e2c9a28256c140169ed624114b43295915d7b6e2fa6278b17a7c43aadefd",
            id="testCases.json:paid-link-1-transaction",
        ),
        pytest.param(
            link(
                "PAID",
                amountPaid=2000,
                amountRemaining=0,
                transactions=[dict(PAID_TRANSACTION), dict(PAID_TRANSACTION)],
            ),
            "04ebbe221724d2b848c3f39b2db3311cc554167f55bd2fe2cb7b86b6bfdeadaa",
            id="testCases.json:paid-link-many-transactions",
        ),
        pytest.param(
            link("EXPIRED"),
            "e07e6e463904beb38da38192b4de79beb4bd20b0435d3920389beb6abeb6c48e",
            id="testCases.json:expired-payment-link",
        ),
        pytest.param(
            link(
                "CANCELLED",
                canceledAt="2025-12-12T09:00:00+07:00",
                cancellationReason="cancel reason",
            ),
            "10c181c89bda5b855327e3e16494b9e8409e6b85a2a90f20177af99f8b12eaa9",
            id="testCases.json:cancelled-payment-link",
        ),
        pytest.param(
            {
                "accountNumber": "0123456789",
                "amount": 20000,
                "description": "thanh toan",
                "reference": "FT-REFERENCE",
                "transactionDateTime": "2025-12-12 09:00:00",
                "virtualAccountNumber": "",
                "counterAccountBankId": "01202001",
                "counterAccountBankName": "",
                "counterAccountName": "NGUYEN VAN A",
                "counterAccountNumber": "9876543210",
                "virtualAccountName": "",
                "currency": "VND",
                "orderCode": 0,
                "paymentLinkId": "payment-link-id",
                "code": "00",
                "desc": "success",
            },
            "302b3becca1672dff99daafae2965f40e48ea3ca39453e4bf37fbcc26807a0e8",
            id="testCases.json:webhook",
        ),
        pytest.param(
            {},
            "d9dd60ea06e1ee2dc960267c7a798f0c70307a4783ac0460d015772412c37938",
            id="reference-4:empty-object",
        ),
    ],
)
def test_data_vectors(data: dict[str, object], expected: str) -> None:
    assert signing.sign_data(data, SDK_KEY) == expected
    assert signing.verify_data(data, expected, SDK_KEY)
    assert signing.verify_data(data, expected.upper(), SDK_KEY)
    assert not signing.verify_data({**data, "amount": 1}, expected, SDK_KEY)


def test_transaction_array_is_compact_json_with_sorted_keys_and_raw_unicode() -> None:
    shuffled = dict(reversed(list(PAID_TRANSACTION.items())))
    shuffled["description"] = "Thanh toán"
    text = signing.data_signing_string({"transactions": [shuffled]})
    assert text.startswith('transactions=[{"accountNumber":"0123456789","amount":2000,')
    assert '"counterAccountBankName":null' in text
    assert '"description":"Thanh toán"' in text


def test_null_and_null_strings_sign_as_empty() -> None:
    assert signing.data_signing_string({"b": None, "a": "null", "c": "undefined", "d": True}) == (
        "a=&b=&c=&d=true"
    )


DOCS_WEBHOOK_DATA = {
    "orderCode": 123,
    "amount": 3000,
    "description": "VQRIO123",
    "accountNumber": "12345678",
    "reference": "TF230204212323",
    "transactionDateTime": "2023-02-04 18:25:00",
    "currency": "VND",
    "paymentLinkId": "124c33293c43417ab7879e14c8d9eb18",
    "code": "00",
    "desc": "Thành công",
    "counterAccountBankId": "",
    "counterAccountBankName": "",
    "counterAccountName": "",
    "counterAccountNumber": "",
    "virtualAccountName": "",
    "virtualAccountNumber": "",
}


def test_docs_webhook_vector() -> None:
    # payos.vn/docs/tich-hop-webhook/kiem-tra-du-lieu-voi-signature (reference §1.5b, §4)
    assert signing.data_signing_string(DOCS_WEBHOOK_DATA) == (
        "accountNumber=12345678&amount=3000&code=00&counterAccountBankId=&counterAccountBankName="
        "&counterAccountName=&counterAccountNumber=&currency=VND&desc=Thành công"
        "&description=VQRIO123&orderCode=123&paymentLinkId=124c33293c43417ab7879e14c8d9eb18"
        "&reference=TF230204212323&transactionDateTime=2023-02-04 18:25:00"
        "&virtualAccountName=&virtualAccountNumber="
    )
    expected = "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"
    assert signing.sign_data(DOCS_WEBHOOK_DATA, DOCS_KEY) == expected
    # The same bytes parsed from \\u-escaped JSON sign identically.
    escaped = json.loads(json.dumps(DOCS_WEBHOOK_DATA, ensure_ascii=True))
    assert signing.verify_data(escaped, expected, DOCS_KEY)


def test_docs_api_reference_signature_does_not_verify() -> None:
    # reference §1.6: the API reference's schema block shows 8d8640d8...cca4c7f, which is wrong
    assert not signing.verify_data(DOCS_WEBHOOK_DATA, "8d8640d8" + "0" * 56, DOCS_KEY)


def test_cancel_body_vector() -> None:
    # reference §1.5c / §4: Python SDK v1 signs the cancel body with scheme (b)
    assert signing.sign_data({"cancellationReason": "Changed my mind"}, DOCS_KEY) == (
        "81c5b9a7924923f190764c8d55a7e80871918063b2469ac3adaefe2ffd02d207"
    )


def test_payout_header_vectors() -> None:
    # testCases.json "create single payout" (header type, percent-encoded, reference §1.5d)
    payout = {
        "referenceId": "referenceId",
        "amount": 2000,
        "description": "payout",
        "toBin": "970422",
        "toAccountNumber": "0123456789",
        "category": ["salary", "hoa"],
    }
    assert signing.sign_encoded(payout, SDK_KEY) == (
        "1bb7686b766bb5d164227a7d4d2e4d4ad241e4a7a91f61c75674c0af9cf90fca"
    )
    # testCases.json "create single payout with no category"
    assert signing.sign_encoded({**payout, "category": []}, SDK_KEY) == (
        "40af04e4b404ef9ad67d034c2d8b4c158c9aad965afe87ab37d456526a949abb"
    )
    # reference §4: `{}` as a header signature
    assert signing.sign_encoded({}, SDK_KEY) == (
        "d9dd60ea06e1ee2dc960267c7a798f0c70307a4783ac0460d015772412c37938"
    )
