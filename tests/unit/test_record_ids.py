"""Record ids: readable (Crockford base32, no I/L/O/U), 60 random bits, uniform symbols."""

from __future__ import annotations

import re
from collections import Counter

from contracts.kit.records import new_id


def test_an_id_is_the_prefix_and_twelve_crockford_characters() -> None:
    assert re.fullmatch(r"LOT-[0-9A-HJKMNP-TV-Z]{12}", new_id("LOT"))


def test_ids_do_not_repeat_and_use_every_symbol_evenly() -> None:
    ids = [new_id("X") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    counts = Counter(symbol for i in ids for symbol in i[2:])
    assert len(counts) == 32
    expected = 20_000 * 12 / 32  # 7,500 each, sd ~85: 8 % is 7 sd, a biased draw misses by more
    assert all(abs(n - expected) < 0.08 * expected for n in counts.values())
