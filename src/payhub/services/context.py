"""The hub's shared resources, built once per process and passed to every use case."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from payhub.clock import Clock, SystemClock
from payhub.outbound import OutboundPolicy
from payhub.services.vault import MasterKey, VaultError
from payhub.settings import Settings
from payhub.store.db import Database


@dataclass
class Hub:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    clock: Clock = field(default_factory=SystemClock)
    master_key: MasterKey | None = None
    previous_keys: list[MasterKey] = field(default_factory=list)
    # account id -> (loaded at monotonic seconds, adapter); see services.accounts
    adapter_cache: dict[str, tuple[float, object]] = field(default_factory=dict)
    adapter_cache_ttl: float = 5.0

    @property
    def keys(self) -> dict[str, MasterKey]:
        keys = {k.key_id: k for k in self.previous_keys}
        if self.master_key is not None:
            keys[self.master_key.key_id] = self.master_key
        return keys

    def require_master_key(self) -> MasterKey:
        if self.master_key is None:
            raise VaultError("PAYHUB_MASTER_KEY is not set; gateway credentials cannot be stored")
        return self.master_key

    def forget_adapters(self) -> None:
        self.adapter_cache.clear()

    def monotonic(self) -> float:
        return time.monotonic()


def build_hub(settings: Settings, *, clock: Clock | None = None) -> Hub:
    OutboundPolicy.from_settings(settings)  # a malformed allow-list fails here, at start
    master = MasterKey(settings.master_key.get_secret_value()) if settings.master_key else None
    return Hub(
        settings=settings,
        db=Database(settings.database_url),
        http=httpx.AsyncClient(timeout=settings.gateway_timeout_seconds),
        clock=clock or SystemClock(),
        master_key=master,
    )
