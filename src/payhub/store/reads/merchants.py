"""Read model of a merchant's profile: its name and the branding its customer pages use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from payhub.store.db import Database
from payhub.store.models import Merchant
from payhub.store.reads.running import run_read


@dataclass(frozen=True, slots=True)
class MerchantProfile:
    """What the hosted checkout, the e-mails and the console show of a merchant."""

    id: str
    name: str
    logo_url: str | None
    brand_color: str | None  # #RRGGBB
    default_locale: str | None  # vi | en | ms

    @classmethod
    def of(cls, m: Merchant) -> MerchantProfile:
        return cls(
            id=m.id,
            name=m.name,
            logo_url=m.logo_url,
            brand_color=m.brand_color,
            default_locale=m.default_locale,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "logo_url": self.logo_url,
            "brand_color": self.brand_color,
            "default_locale": self.default_locale,
        }


def _merchant_profile(session: Session, merchant_id: str) -> MerchantProfile | None:
    row = session.get(Merchant, merchant_id)
    return None if row is None else MerchantProfile.of(row)


async def merchant_profile(db: Database, merchant_id: str) -> MerchantProfile | None:
    """The merchant's profile; `None` if there is no such merchant."""
    return await run_read(db, _merchant_profile, merchant_id)
