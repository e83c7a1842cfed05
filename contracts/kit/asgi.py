"""Plain ASGI types for the kernel's raw middleware.

Litestar's TypedDict scopes and messages make every raw middleware a thicket of casts; these
plain mappings say what the middleware actually relies on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
