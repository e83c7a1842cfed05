"""Field types every API shares, so a constraint means the same thing everywhere.

Ids, free text and the body base classes are the kernel's (`contracts/kit/wire`), shared with the
APIs the kernel serves itself; models take them from here with the rest.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.kit.patterns import whole
from contracts.kit.wire import ID_MAX as ID_MAX
from contracts.kit.wire import ID_PATTERN as ID_PATTERN
from contracts.kit.wire import Id as Id
from contracts.kit.wire import Input as Input
from contracts.kit.wire import Output as Output
from contracts.kit.wire import Text as Text

# No NUL characters: PostgreSQL cannot store them in text, so they are refused at the door.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=whole(r"[^\x00]*"))]
Location = Annotated[
    str, msgspec.Meta(min_length=1, max_length=40, pattern=whole(r"[A-Za-z0-9][A-Za-z0-9._\-/]*"))
]
Uom = Annotated[str, msgspec.Meta(min_length=1, max_length=10, pattern=whole(r"[A-Za-z0-9%]+"))]
CountryCode = Annotated[str, msgspec.Meta(pattern=whole(r"[A-Z]{2}"))]
LineNo = Annotated[int, msgspec.Meta(ge=1, le=9999)]
Currency = Annotated[str, msgspec.Meta(pattern=whole(r"[A-Z]{3}"))]
# Quantities are positive and bounded; amounts of money travel as decimal strings.
Quantity = Annotated[float, msgspec.Meta(gt=0, le=1_000_000_000)]
# Stock records keep quantities to thousandths of the unit: a quantity that rounds to nothing is
# refused (422) by every API that keeps or passes it on (QUANTITY_DECIMALS, contracts/kit/inputs.py).
NonNegative = Annotated[float, msgspec.Meta(ge=0, le=1_000_000_000)]
# Money travels as a decimal string so no float rounding ever touches an amount.
Money = Annotated[str, msgspec.Meta(pattern=whole(r"-?[0-9]{1,13}(\.[0-9]{1,4})?"), examples=["125.50"])]
Limit = Annotated[int, msgspec.Meta(ge=1, le=500)]
