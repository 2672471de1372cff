"""Signature mutations: thousands of altered copies of one genuine signed notification, for
every registered gateway, over real loopback HTTP on SQLite and PostgreSQL.

Each gateway's conformance driver (`tests/e2e/drivers/<name>.py`) gives a notification
saying a real pending attempt is paid, signed with the sandbox account's key
(`signed_callback`), and the list of values its signature covers. A seeded generator alters
it (`mutations`): bit flips and changed digits in the signature and in signed values,
another key, truncations, empty and missing fields, duplicated keys, swapped amount /
order / status values, other amounts and statuses, another pending attempt's reference,
unicode look-alikes, case changes, whitespace inside values, nesting, bodies cut short.
Only signed material is altered: a change to something the signature does not cover would
still verify, by the gateway's design.

Every copy must be refused in the gateway's own rejection format, never with a 5xx, and
recorded as an inbound row; afterwards every table that holds money state (orders,
attempts, events, credits, stock, outbox) is byte for byte what it was, and
`store.invariants` finds nothing. Then the genuine notification itself is sent and must be
accepted, so the refusals are the mutations' doing, not a broken original.

Two signature equivalences are by design and never generated: a signature's hex case
(VNPay sends upper case) and whitespace around it are ignored by every adapter.
"""

from __future__ import annotations

import copy
import json
import random
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from payhub.store.invariants import check_invariants
from tests.proof.conftest import proof_size, report
from tests.support.conformance import (
    Ack,
    Env,
    GatewayDriver,
    SignedCallback,
    load_driver,
    registered_gateways,
    running,
)

pytestmark = pytest.mark.e2e

MUTATIONS = proof_size(ci=120, full=2_000)  # per gateway and database
SEED = 20261122

# Tables whose rows are money state; a rejected notification must leave them untouched.
STATE_TABLES = (
    "orders",
    "order_items",
    "payments",
    "payment_events",
    "credit_entries",
    "stock_movements",
    "products",
    "refunds",
    "outbox",
)
# The worker's scheduling bookkeeping on an attempt, not money: a forged browser return still
# makes the hub check the attempt (by a query, on its schedule), which moves these.
SCHEDULE_COLUMNS = {"next_check_at", "check_count", "claimed_by", "claimed_until"}
REJECTED_OUTCOMES = {"invalid_signature", "malformed"}

# One character each that renders like an ASCII one.
LOOKALIKES = {
    "a": "а",  # Cyrillic a
    "e": "е",  # Cyrillic e
    "o": "о",  # Cyrillic o
    "c": "с",  # Cyrillic es
    "p": "р",  # Cyrillic er
    "0": "０",  # fullwidth digits
    "1": "１",
    "2": "２",
    "5": "５",
    "P": "Р",  # Cyrillic Er
    "H": "Н",  # Cyrillic En
}
WHITESPACE = (" ", "\t", "\n", "\u00a0", "\u200b")


@dataclass(frozen=True)
class Wire:
    """One request as sent: method, query string, body, content type."""

    family: str
    method: str
    query: str
    body: bytes
    content_type: str | None


# ----------------------------------------------------------------------------- encoding


def _get(fields: dict[str, Any], path: str) -> Any:
    node: Any = fields
    for part in path.split("."):
        node = node[part]
    return node


def _set(fields: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = fields
    for part in parents:
        node = node[part]
    node[last] = value


def _delete(fields: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node = fields
    for part in parents:
        node = node[part]
    del node[last]


def _rename(fields: dict[str, Any], path: str, new_key: str) -> None:
    *parents, last = path.split(".")
    node = fields
    for part in parents:
        node = node[part]
    items = [(new_key if k == last else k, v) for k, v in node.items()]
    node.clear()
    node.update(items)


def _json_text(value: Any, dup: tuple[str, Any, bool] | None = None, at: str = "") -> str:
    """JSON of `value`; `dup` = (path, forged value, forged first) writes that key twice."""
    if not isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    parts: list[str] = []
    for key, item in value.items():
        path = f"{at}.{key}" if at else key
        genuine = f"{json.dumps(key)}:{_json_text(item, dup, path)}"
        if dup is not None and dup[0] == path:
            forged = f"{json.dumps(key)}:{json.dumps(dup[1], ensure_ascii=False)}"
            parts += [forged, genuine] if dup[2] else [genuine, forged]
        else:
            parts.append(genuine)
    return "{" + ",".join(parts) + "}"


def encode(cb: SignedCallback, fields: dict[str, Any], family: str) -> Wire:
    if cb.encoding == "json":
        return Wire(family, "POST", "", _json_text(fields).encode("utf-8"), "application/json")
    return encode_pairs(cb, [(k, str(v)) for k, v in fields.items()], family)


def encode_pairs(cb: SignedCallback, pairs: list[tuple[str, str]], family: str) -> Wire:
    text = urlencode(pairs)
    if cb.encoding == "query":
        return Wire(family, "GET", text, b"", None)
    return Wire(family, "POST", "", text.encode(), "application/x-www-form-urlencoded")


# ----------------------------------------------------------------------------- mutations


def _flip_char(rng: random.Random, text: str) -> str:
    """`text` with one character's low bits flipped, staying in ASCII."""
    if not text:
        return "x"
    i = rng.randrange(len(text))
    ch = text[i]
    code = ord(ch)
    flipped = chr(code ^ (1 << rng.randrange(7))) if code < 128 else chr(code ^ 1)
    return text[:i] + flipped + text[i + 1 :]


def _other_hex(rng: random.Random, ch: str) -> str:
    return rng.choice([c for c in "0123456789abcdef" if c != ch.lower()])


def _changed_value(rng: random.Random, value: Any) -> Any:
    """`value` changed by one bit (an int stays an int, a string stays a string)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(max(1, value.bit_length())))
    return _flip_char(rng, str(value))


def _with_space(rng: random.Random, value: Any) -> str:
    text = str(value)
    space = rng.choice(WHITESPACE)
    where = rng.randrange(3)
    if where == 0:
        return space + text
    if where == 1:
        return text + space
    i = rng.randrange(len(text) + 1)
    return text[:i] + space + text[i:]


def _lookalike(rng: random.Random, value: Any) -> str | None:
    text = str(value)
    decomposed = unicodedata.normalize("NFD", text)
    if decomposed != text and rng.random() < 0.3:
        return decomposed  # the same letters, other code points (Vietnamese diacritics)
    spots = [i for i, ch in enumerate(text) if ch in LOOKALIKES]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + LOOKALIKES[text[i]] + text[i + 1 :]


def _case_changed(rng: random.Random, value: Any) -> str | None:
    text = str(value)
    spots = [i for i, ch in enumerate(text) if ch.isalpha() and ch.swapcase() != ch]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + text[i].swapcase() + text[i + 1 :]


@dataclass
class Generator:
    """Seeded mutations of one genuine callback; `wrong_keys` are copies signed otherwise."""

    cb: SignedCallback
    rng: random.Random
    wrong_keys: list[SignedCallback]
    other_reference: str  # another real pending attempt of the same gateway

    @property
    def signature(self) -> str:
        return str(_get(self.cb.fields, self.cb.signature))

    def fields(self) -> dict[str, Any]:
        return copy.deepcopy(self.cb.fields)

    def with_value(self, family: str, path: str, value: Any) -> Wire:
        fields = self.fields()
        _set(fields, path, value)
        return encode(self.cb, fields, family)

    def signed_path(self) -> str:
        return self.rng.choice(self.cb.signed)

    # -- the signature ------------------------------------------------------------

    def sig_bitflip(self) -> Wire:
        raw = bytearray(bytes.fromhex(self.signature))
        bit = self.rng.randrange(len(raw) * 8)
        raw[bit // 8] ^= 1 << (bit % 8)
        return self.with_value("sig_bitflip", self.cb.signature, raw.hex())

    def sig_digit(self) -> Wire:
        sig = self.signature
        i = self.rng.randrange(len(sig))
        changed = sig[:i] + _other_hex(self.rng, sig[i]) + sig[i + 1 :]
        if self.rng.random() < 0.5:
            changed = changed.upper()  # a case change on top of a changed digit
        return self.with_value("sig_digit", self.cb.signature, changed)

    def sig_truncated(self) -> Wire:
        sig = self.signature
        return self.with_value(
            "sig_truncated", self.cb.signature, sig[: self.rng.randrange(len(sig))]
        )

    def sig_extended(self) -> Wire:
        sig = self.signature
        extra = (
            sig
            if self.rng.random() < 0.3
            else "".join(self.rng.choice("0123456789abcdef") for _ in range(self.rng.randint(1, 8)))
        )
        return self.with_value("sig_extended", self.cb.signature, sig + extra)

    def sig_missing(self) -> Wire:
        fields = self.fields()
        _delete(fields, self.cb.signature)
        return encode(self.cb, fields, "sig_missing")

    def sig_inner_space(self) -> Wire:
        sig = self.signature
        i = self.rng.randrange(1, len(sig))
        return self.with_value(
            "sig_inner_space",
            self.cb.signature,
            sig[:i] + self.rng.choice(WHITESPACE[:3]) + sig[i:],
        )

    def sig_lookalike(self) -> Wire:
        sig = self.signature
        spots = [i for i, ch in enumerate(sig) if ch in LOOKALIKES]
        i = self.rng.choice(spots) if spots else 0
        forged = sig[:i] + LOOKALIKES.get(sig[i], "е") + sig[i + 1 :]
        return self.with_value("sig_lookalike", self.cb.signature, forged)

    def sig_type(self) -> Wire:
        sig = self.signature
        if self.cb.encoding != "json":
            pairs = [
                (f"{k}[]" if k == self.cb.signature else k, str(v))
                for k, v in self.cb.fields.items()
            ]
            return encode_pairs(self.cb, pairs, "sig_type")
        forged = self.rng.choice([None, 0, int(sig[:12], 16), [sig], {"v": sig}, True])
        return self.with_value("sig_type", self.cb.signature, forged)

    def wrong_key(self) -> Wire:
        other = self.rng.choice(self.wrong_keys)
        return encode(self.cb, copy.deepcopy(other.fields), "wrong_key")

    # -- signed values ------------------------------------------------------------

    def value_bitflip(self) -> Wire:
        path = self.signed_path()
        return self.with_value(
            "value_bitflip", path, _changed_value(self.rng, _get(self.cb.fields, path))
        )

    def value_whitespace(self) -> Wire:
        path = self.signed_path()
        return self.with_value(
            "value_whitespace", path, _with_space(self.rng, _get(self.cb.fields, path))
        )

    def value_lookalike(self) -> Wire:
        for _ in range(20):
            path = self.signed_path()
            forged = _lookalike(self.rng, _get(self.cb.fields, path))
            if forged is not None:
                return self.with_value("value_lookalike", path, forged)
        return self.value_bitflip()

    def value_case(self) -> Wire:
        for _ in range(20):
            path = self.signed_path()
            forged = _case_changed(self.rng, _get(self.cb.fields, path))
            if forged is not None:
                return self.with_value("value_case", path, forged)
        return self.value_bitflip()

    def value_swap(self) -> Wire:
        pairs = [
            (a, b)
            for a, b in (
                (self.cb.amount, self.cb.order),
                (self.cb.order, self.cb.status),
                (self.cb.amount, self.cb.status),
            )
            if a != b and (a in self.cb.signed or b in self.cb.signed)
        ]
        a, b = self.rng.choice(pairs)
        fields = self.fields()
        va, vb = _get(fields, a), _get(fields, b)
        _set(fields, a, vb)
        _set(fields, b, va)
        return encode(self.cb, fields, "value_swap")

    def _as_original_type(self, path: str, value: int) -> Any:
        return value if isinstance(_get(self.cb.fields, path), int) else str(value)

    def other_amount(self) -> Wire:
        path = self.cb.amount if self.cb.amount in self.cb.signed else self.cb.order
        original = _get(self.cb.fields, path)
        base = int(original) if str(original).lstrip("-").isdigit() else 20_000
        forged = self.rng.choice(
            [base + 1, base - 1, base * 100, base // 100, 0, -base, 10**12, 10**30, 1]
        )
        return self.with_value("other_amount", path, self._as_original_type(path, forged))

    def other_status(self) -> Wire:
        path = self.cb.status
        original = _get(self.cb.fields, path)
        choices = ["01", "02", "1", "2", "3", "-1", "24", "99", "PAID", "CANCELLED", ""]
        choices = [c for c in choices if c != str(original)]
        forged: Any = self.rng.choice(choices)
        if isinstance(original, int) and forged.lstrip("-").isdigit():
            forged = int(forged)
        return self.with_value("other_status", path, forged)

    def other_order(self) -> Wire:
        path = self.cb.order
        forged = self.other_reference if self.rng.random() < 0.6 else None
        if forged is None:
            forged = _changed_value(self.rng, _get(self.cb.fields, path))
            return self.with_value("other_order", path, forged)
        if isinstance(_get(self.cb.fields, path), int):
            return self.with_value("other_order", path, int(forged))
        return self.with_value("other_order", path, forged)

    def field_missing(self) -> Wire:
        fields = self.fields()
        _delete(fields, self.signed_path())
        return encode(self.cb, fields, "field_missing")

    def key_case(self) -> Wire:
        path = self.signed_path()
        key = path.rsplit(".", 1)[-1]
        fields = self.fields()
        renamed = key.upper() if key.upper() != key else key.lower()
        _rename(fields, path, renamed)
        return encode(self.cb, fields, "key_case")

    def duplicate_field(self) -> Wire:
        """A signed key twice: the genuine value and a forged one, either order."""
        path = self.rng.choice([*self.cb.signed, self.cb.signature])
        original = _get(self.cb.fields, path)
        forged = _changed_value(self.rng, original)
        forged_first = self.rng.random() < 0.5
        if self.cb.encoding == "json":
            if forged_first:
                # A JSON object keeps its last key: forged first would read as the genuine
                # message. Forge the winning copy and put a decoy before it.
                fields = self.fields()
                _set(fields, path, forged)
                text = _json_text(fields, (path, original, True))
            else:
                text = _json_text(self.cb.fields, (path, forged, False))
            return Wire("duplicate_field", "POST", "", text.encode(), "application/json")
        pairs = [(k, str(v)) for k, v in self.cb.fields.items()]
        i = next(n for n, (k, _) in enumerate(pairs) if k == path)
        pairs.insert(i if forged_first else i + 1, (path, str(forged)))
        return encode_pairs(self.cb, pairs, "duplicate_field")

    def nesting(self) -> Wire:
        path = self.signed_path()
        value = _get(self.cb.fields, path)
        if self.cb.encoding != "json":
            key = path
            bracketed = self.rng.choice([f"{key}[]", f"{key}[0]", f"{key}[a][b]", f"{key}.x"])
            pairs = [(bracketed if k == key else k, str(v)) for k, v in self.cb.fields.items()]
            return encode_pairs(self.cb, pairs, "nesting")
        depth = self.rng.randint(1, 40)
        nested: Any = value
        for _ in range(depth):
            nested = [nested] if self.rng.random() < 0.5 else {"v": nested}
        return self.with_value("nesting", path, nested)

    def deep_nesting(self) -> Wire:
        """A signed value buried thousands of levels deep (a parser's recursion limit)."""
        path = self.signed_path()
        # Deep, yet well inside the hub's body limit (a 413 is no parser's answer) and a
        # URL's length.
        depth = self.rng.choice([1_000, 5_000, 20_000])
        if self.cb.encoding != "json":
            depth = self.rng.choice([100, 300])
            pairs = [
                (k + "[a]" * depth if k == path else k, str(v)) for k, v in self.cb.fields.items()
            ]
            return encode_pairs(self.cb, pairs, "deep_nesting")
        marker = "\u0000deep\u0000"
        fields = self.fields()
        _set(fields, path, marker)
        text = _json_text(fields).replace(json.dumps(marker), "[" * depth + "1" + "]" * depth)
        return Wire("deep_nesting", "POST", "", text.encode(), "application/json")

    def truncated(self) -> Wire:
        full = encode(self.cb, self.cb.fields, "truncated")
        if full.method == "GET":
            cut = self.rng.randrange(len(full.query))
            return Wire("truncated", "GET", full.query[:cut], b"", None)
        cut = self.rng.randrange(len(full.body))
        return Wire("truncated", "POST", "", full.body[:cut], full.content_type)

    def empty(self) -> Wire:
        full = encode(self.cb, self.cb.fields, "empty")
        body = self.rng.choice([b"", b"{}", b"[]", b"null", b"=", b"&&"])
        if full.method == "GET":
            return Wire("empty", "GET", body.decode(), b"", None)
        return Wire("empty", "POST", "", body, full.content_type)

    FAMILIES: tuple[str, ...] = (
        "sig_bitflip",
        "sig_digit",
        "sig_truncated",
        "sig_extended",
        "sig_missing",
        "sig_inner_space",
        "sig_lookalike",
        "sig_type",
        "wrong_key",
        "value_bitflip",
        "value_whitespace",
        "value_lookalike",
        "value_case",
        "value_swap",
        "other_amount",
        "other_status",
        "other_order",
        "field_missing",
        "key_case",
        "duplicate_field",
        "nesting",
        "deep_nesting",
        "truncated",
        "empty",
    )

    def mutations(self, count: int, families: tuple[str, ...]) -> Iterator[Wire]:
        """`count` mutations, the families in turn (so every family gets its share)."""
        for n in range(count):
            make: Callable[[], Wire] = getattr(self, families[n % len(families)])
            yield make()


# ----------------------------------------------------------------------------- the proof


def _state(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    def money_state(row: Any) -> tuple[Any, ...]:
        return tuple(v for k, v in row._mapping.items() if k not in SCHEDULE_COLUMNS)

    return {
        t: sorted((money_state(r) for r in env.rows(f"select * from {t}")), key=repr)
        for t in STATE_TABLES
    }


def _wrong_keys(driver: GatewayDriver, env: Env, payment: dict[str, Any]) -> list[SignedCallback]:
    genuine = driver.signed_callback(env, payment)
    keys = ["", "x", "secret", "0" * 32, "wrong-key-" + "k" * 30, "Ünïcødé-ключ"]
    out = [driver.signed_callback(env, payment, secret=k) for k in keys if k]
    # Changed by one character: the nearest a guessed key can get.
    for k in ("a", "b"):
        out.append(driver.signed_callback(env, payment, secret=k * 40))
    return [cb for cb in out if cb.fields != genuine.fields]


def _send(env: Env, client: httpx.Client, wire: Wire, path: str) -> httpx.Response:
    url = path + (f"?{wire.query}" if wire.query else "")
    headers = {"content-type": wire.content_type} if wire.content_type else {}
    return client.request(wire.method, url, content=wire.body, headers=headers)


def prove_mutations(env: Env, families: tuple[str, ...], count: int) -> dict[str, int]:
    """Send `count` mutations; return counts per family. Asserts everything as it goes."""
    d = env.driver
    orders = [env.order(f"mut-{i}") for i in range(2)]
    payment, other = (env.start(o["id"]) for o in orders)
    cb = d.signed_callback(env, payment)
    gen = Generator(
        cb,
        random.Random(f"{SEED}:{d.name}"),
        _wrong_keys(d, env, payment),
        other["gateway_reference"],
    )
    callback_path = f"/callbacks/{env.gateway}/{env.account}"
    return_path = f"/return/{env.gateway}/{payment['id']}"
    before = _state(env)
    rejected = {d.ack_rejected, d.ack_malformed}
    sent: dict[str, int] = {}
    seen_bodies: set[tuple[str, bytes]] = set()
    returns = 0
    genuine = encode(cb, cb.fields, "genuine")
    with httpx.Client(base_url=env.hub_url, timeout=30) as client:
        for n, wire in enumerate(gen.mutations(count, families)):
            same = (wire.query, wire.body) == (genuine.query, genuine.body)
            assert not same, f"{wire.family} produced the genuine message"
            seen_bodies.add((wire.query, wire.body))
            r = _send(env, client, wire, callback_path)
            ack = Ack(r.status_code, r.text)
            assert r.status_code < 500, (wire, ack)
            assert ack in rejected, (wire, ack)
            sent[wire.family] = sent.get(wire.family, 0) + 1
            if cb.return_too and wire.method == "GET":
                back = _send(env, client, wire, return_path)
                assert back.status_code < 500, (wire, back.status_code, back.text[:200])
                assert "Payment received" not in back.text, wire
                returns += 1
            if n % 50 == 49:
                assert _state(env) == before, f"state changed after {wire}"
    total = sum(sent.values())
    assert _state(env) == before
    assert check_invariants(env.th.hub.db.engine) == {}
    outcomes = env.inbound_outcomes()
    assert len(outcomes) == total, "every rejected notification is an inbound row"
    assert set(outcomes) <= REJECTED_OUTCOMES, sorted(set(outcomes))
    if returns:
        displayed = env.rows("select outcome, detail from inbound_requests where kind = 'return'")
        assert len(displayed) == returns
        assert all("signature valid" not in (detail or "") for _, detail in displayed)
    # The genuine notification, last: accepted, so the refusals were the mutations' doing.
    with httpx.Client(base_url=env.hub_url, timeout=30) as client:
        r = _send(env, client, genuine, callback_path)
    assert Ack(r.status_code, r.text) == d.ack_ok, r.text
    if not env.caps.notification_needs_confirmation:
        assert env.wait_status(orders[0]["id"], "paid")["status"] == "paid"
        assert env.get_order(orders[1]["id"])["status"] == "awaiting_payment"
    else:
        # Only a hint: the query finds nothing paid, which is recorded, and nothing moves.
        assert env.get_order(orders[0]["id"])["status"] == "awaiting_payment"
        assert env.column("select payment_status_after from payment_events") == ["pending"]
        assert env.count("credit_entries") == 0
    assert check_invariants(env.th.hub.db.engine) == {}
    sent["distinct"] = len(seen_bodies)
    sent["returns"] = returns
    return sent


@pytest.mark.parametrize("gateway", registered_gateways())
def test_no_mutation_of_a_signed_notification_is_accepted(
    gateway: str, seeded: Callable[[str], Any]
) -> None:
    driver = load_driver(gateway)
    started = time.monotonic()
    with running(driver, seeded) as env:
        # Every copy comes from one address and verifies nothing: the unverified-callback
        # budget would answer 429 after 120 a minute (tests/proof/test_rate_limits.py proves
        # that). Here each copy must reach the verifier.
        env.th.app.state.rate_limits.enabled = False
        counts = prove_mutations(env, Generator.FAMILIES, MUTATIONS)
    families = {k: v for k, v in counts.items() if k not in ("distinct", "returns")}
    report(
        f"signature_mutations[{gateway}]",
        mutations=sum(families.values()),
        distinct=counts["distinct"],
        families=len(families),
        returns=counts["returns"],
        accepted=0,
        server_errors=0,
        seconds=round(time.monotonic() - started, 1),
    )
