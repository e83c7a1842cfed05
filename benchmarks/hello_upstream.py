"""A minimal Litestar upstream for measuring proxy overhead (the STACK-NOTES "hello" baseline).

Answers GET on any path with a small JSON body; serve it with granian:
`python -m granian --interface asgi --factory benchmarks.hello_upstream:create_app`.
"""

from __future__ import annotations

from litestar import Litestar, get


@get("/{path:path}", sync_to_thread=False)
def hello(path: str) -> dict[str, str]:
    return {"item_id": path.rsplit("/", 1)[-1], "description": "hello"}


def create_app() -> Litestar:
    return Litestar([hello], openapi_config=None, logging_config=None)
