"""`payhub keys rotate`: every encrypted column re-encrypted under the current master key.

The columns are `store.encrypted.ENCRYPTED_COLUMNS`; each row still under an older key is
decrypted with the keyring (`PAYHUB_PREVIOUS_MASTER_KEYS`) and sealed again under
`PAYHUB_MASTER_KEY`, all in one transaction, one audit row per rewritten row. Afterwards
the old keys may be dropped.
"""

from __future__ import annotations

from payhub.services.context import Hub
from payhub.services.vault import reencrypt
from payhub.store.encrypted import ENCRYPTED_COLUMNS, values_to_rekey
from payhub.store.journal import add_audit


def rotate_keys(hub: Hub, *, actor: str) -> dict[str, int]:
    """Re-encrypt every ciphertext not under the current key; rows rewritten per column."""
    key = hub.require_master_key()
    keys = hub.keys
    now = hub.clock.now()
    rewritten = {column.name: 0 for column in ENCRYPTED_COLUMNS}
    with hub.db.write() as tx:
        for column in ENCRYPTED_COLUMNS:
            for value in values_to_rekey(tx, column, key.key_id):
                old_key_id = value.key_id
                blob, key_id = reencrypt(keys, key, value.subject, value.blob, old_key_id)
                value.replace(blob, key_id, now)
                add_audit(
                    tx,
                    merchant_id=value.merchant_id,
                    actor=actor,
                    action=column.audit_action,
                    subject=value.row_id,
                    before={"key_id": old_key_id},
                    after={"key_id": key_id},
                    now=now,
                )
                rewritten[column.name] += 1
    hub.forget_adapters()
    return rewritten
