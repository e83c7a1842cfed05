"""The X-Acting-For value: what an experience API writes reads back the same, and anything else
(a missing client, unknown or repeated parts, control characters, over-long values) reads as
nobody, so it is never recorded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contracts.kit import acting, correlation


@dataclass
class Caller:
    client_id: str
    person_id: str | None = None
    supplier_id: str | None = None


def test_a_person_and_a_supplier_with_awkward_ids_read_back_the_same() -> None:
    value = acting.encode(Caller("tablet-017", person_id="jo.doe@plant 1", supplier_id="SUP&=ACME"))
    assert correlation.ACTING_FOR.match(value)
    assert acting.decode(value) == acting.Acting("tablet-017", "jo.doe@plant 1", "SUP&=ACME")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "person=P-1",  # no client
        "client=a&client=b",  # repeated
        "client=a&role=admin",  # unknown part
        "client=a&person=P\x01",  # control character
        "client=" + "a" * 3000,  # over the header's length
        "client=&person=P-1",  # empty client
    ],
)
def test_anything_else_reads_as_nobody(value: str) -> None:
    assert acting.decode(value) is None


def test_a_platform_client_passing_someone_on_is_the_via() -> None:
    platform_client = Caller("technician-experience")
    with correlation.amended(acting_for=acting.encode(Caller("tablet-9", person_id="P-7"))):
        who = acting.acting(platform_client)
    assert who == acting.Acting("tablet-9", "P-7", None, via="technician-experience")
    assert who is not None
    assert who.describe() == "P-7 (tablet-9) via technician-experience"
    assert acting.acting(platform_client) == acting.Acting("technician-experience")  # acting for itself
