"""The gateway's own tables: registered OAuth2 clients and token signing keys."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, Text

metadata = MetaData()

clients = Table(
    "gateway_clients",
    metadata,
    Column("client_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(300), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated, as OAuth2 writes them
    Column("supplier_id", String(100), nullable=True),
    Column("person_id", String(100), nullable=True),
    Column("site", String(100), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

signing_keys = Table(
    "gateway_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_jwk", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Published from created_at, signs from signs_from (NULL: from created_at): every service has
    # fetched a key before any token names it.
    Column("signs_from", DateTime(timezone=True), nullable=True),
    Column("retired_at", DateTime(timezone=True), nullable=True),  # stops signing
    Column("publish_until", DateTime(timezone=True), nullable=True),  # left the JWKS after this
)
