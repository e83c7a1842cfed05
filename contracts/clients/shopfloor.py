"""Typed client of the shop-floor connector v1."""

from __future__ import annotations

from contracts.clients.base import ApiClient
from contracts.models import shopfloor as m

API = "/shopfloor/v1"


class ShopfloorClient(ApiClient):
    service = "shopfloor"

    async def troubled_devices(self) -> list[m.Device]:
        """Every device with a counted problem (malformed payloads, unknown, out of order, ...)."""
        return await self.get_all(f"{API}/devices", m.Device, {"with_problems": True, "limit": 500})

    async def status(self) -> m.Status:
        return await self.get(f"{API}/status", m.Status)
