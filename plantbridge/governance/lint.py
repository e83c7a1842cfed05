"""The governance ruleset every OpenAPI document must pass (like a Spectral ruleset, in code)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from contracts.kit.patterns import END as WHOLE_END
from contracts.kit.strict_body import is_json_media_type
from contracts.kit.strict_query import SLUG as UNKNOWN_QUERY_PARAMETER
from plantbridge.governance.breaking import METHODS

PROBLEM_JSON = "application/problem+json"
Operation = dict[str, Any]
Rule = Callable[[dict[str, Any], str, str, Operation], Iterator[str]]


def _resolve(document: dict[str, Any], node: Any) -> Any:
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node


def _is_oauth(scheme: Any) -> bool:
    return isinstance(scheme, dict) and scheme.get("type") in ("oauth2", "openIdConnect")


def security_with_scopes(document: dict[str, Any], method: str, path: str, op: Operation) -> Iterator[str]:
    schemes = document.get("components", {}).get("securitySchemes", {})
    requirements = op.get("security", document.get("security"))
    if not requirements:
        yield "security: no security requirement"
        return
    for requirement in requirements:
        if not requirement:
            yield "security: an empty requirement makes the operation anonymous"
        for name, scopes in requirement.items():
            if name not in schemes:
                yield f"security: scheme `{name}` is not in components.securitySchemes"
            # Scopes belong to OAuth2 schemes; a signature scheme (apiKey) has none to name.
            elif not scopes and _is_oauth(schemes[name]):
                yield f"security: requirement `{name}` names no scopes"


def problem_responses(document: dict[str, Any], method: str, path: str, op: Operation) -> Iterator[str]:
    responses = op.get("responses", {})
    client_errors = [s for s in responses if str(s).startswith("4")]
    if not client_errors:
        yield "problems: no 4xx problem response documented"
    schemes = document.get("components", {}).get("securitySchemes", {})
    requirements = op.get("security", document.get("security")) or []
    scoped = any(_is_oauth(schemes.get(name, {})) for r in requirements for name in r)
    for needed in ("401", "403") if scoped else ("401",):  # no scopes, nothing to be forbidden
        if needed not in map(str, responses):
            yield f"problems: {needed} not documented"
    for status in client_errors:
        content = _resolve(document, responses[status]).get("content", {})
        if PROBLEM_JSON not in content:
            yield f"problems: {status} is not {PROBLEM_JSON}"


def _success_schema(document: dict[str, Any], op: Operation) -> dict[str, Any]:
    response = _resolve(document, op.get("responses", {}).get("200", {}))
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    resolved: dict[str, Any] = _resolve(document, schema)
    return resolved


def pagination(document: dict[str, Any], method: str, path: str, op: Operation) -> Iterator[str]:
    if method != "get":
        return
    schema = _success_schema(document, op)
    params = {
        p.get("name")
        for p in (_resolve(document, p) for p in op.get("parameters", []))
        if p.get("in") == "query"
    }
    props = schema.get("properties", {})
    is_list = "items" in props or schema.get("type") == "array" or bool({"limit", "cursor"} & params)
    if not is_list:
        return
    if schema.get("type") == "array":
        yield "pagination: a list answers a bare array; use the page shape (items + next_cursor)"
        return
    for name in ("items", "next_cursor"):
        if name not in props:
            yield f"pagination: the page has no `{name}`"
    for name in ("limit", "cursor"):
        if name not in params:
            yield f"pagination: no `{name}` query parameter"


def identified_and_described(
    document: dict[str, Any], method: str, path: str, op: Operation
) -> Iterator[str]:
    if not op.get("operationId"):
        yield "operation: no operationId"
    if not (op.get("summary") or op.get("description")):
        yield "operation: neither summary nor description"


def json_bodies(document: dict[str, Any], method: str, path: str, op: Operation) -> Iterator[str]:
    """A request body is JSON (or a file: the body is the file itself, a binary string in its own
    media type), and the operation says what the server answers to a body that is not (415), too
    large (413), or malformed, too deeply nested or invalid (400)."""
    body = _resolve(document, op.get("requestBody"))
    if not body:
        return
    for media_type, content in body.get("content", {}).items():
        schema = _resolve(document, content.get("schema")) or {}
        is_file = (schema.get("type"), schema.get("format")) == ("string", "binary")
        if not (is_json_media_type(media_type) or is_file):
            yield f"body: {media_type} is not a JSON media type"
    for needed in ("400", "413", "415"):
        if needed not in map(str, op.get("responses", {})):
            yield f"body: {needed} not documented for a request body"


def strict_query_parameters(document: dict[str, Any], method: str, path: str, op: Operation) -> Iterator[str]:
    """An operation that takes query parameters says that it refuses any other one (400 naming
    it, as the kernel's StrictQueryMiddleware answers): a filter a client misspells must never
    quietly return everything."""
    takes_query = any(_resolve(document, p).get("in") == "query" for p in op.get("parameters", []))
    if not takes_query:
        return
    refusal = _resolve(document, op.get("responses", {}).get("400", {}))
    if UNKNOWN_QUERY_PARAMETER not in str(refusal.get("description", "")):
        yield f"query: 400 does not say that unknown query parameters are refused ({UNKNOWN_QUERY_PARAMETER})"


RULES: tuple[Rule, ...] = (
    security_with_scopes,
    problem_responses,
    pagination,
    identified_and_described,
    json_bodies,
    strict_query_parameters,
)


def loose_patterns(node: Any, where: str = "#") -> Iterator[str]:
    """Every pattern anchored at the end is written with `kit.patterns.whole`: a bare `$` lets
    Python (msgspec, Litestar) accept the value with a final newline that the document refuses."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str) and value.endswith("$"):
                if not value.endswith(WHOLE_END):
                    yield f"{where}: pattern {value} ends in a bare $ (write it with kit.patterns.whole)"
            else:
                yield from loose_patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from loose_patterns(value, f"{where}/{index}")


def lint(document: dict[str, Any], rules: tuple[Rule, ...] = RULES) -> list[str]:
    found: list[str] = list(loose_patterns(document))
    seen_ids: dict[str, str] = {}
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{method.upper()} {path}"
            found.extend(
                f"{where}: {message}" for rule in rules for message in rule(document, method, path, op)
            )
            op_id = op.get("operationId")
            if op_id and op_id in seen_ids:
                found.append(f"{where}: operation: operationId {op_id} also used by {seen_ids[op_id]}")
            elif op_id:
                seen_ids[op_id] = where
    return found
