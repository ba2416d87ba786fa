"""Route registry: each operation is declared once, with the pydantic models its handler validates with, and the
same declaration registers the aiohttp route and produces its OpenAPI description.

A route module declares module-level handlers with `@route(...)` and offers them with
`create_api() -> Api.collect(module)`. The declaration also says what the wrapper does before the handler: the
rate-limit tier, authentication (which applies the access policy), and the request's unit of work
(`uow="read"` or `"write"`), which the handler finds in `request[UOW]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, TypeVar

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from core.container import UnitOfWork
from core.errors import DomainError
from webserver.errors import ApiError, default_code
from webserver.i18n import TRANSLATIONS
from webserver.keys import CONTAINER
from webserver.middlewares import caller_language
from webserver.security import LATE_RATE_HEADERS, RateTier, guard

Handler = Callable[..., Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

_JSON_TYPES = frozenset({"application/json"})
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
# JSON bodies nested deeper than this are refused before anything parses them recursively.
MAX_JSON_DEPTH = 32
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
UOW = web.RequestKey("uow", UnitOfWork)
Transaction = Literal["read", "write"]


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str
    error_code: str
    timestamp: str
    errors: list[ErrorItem] | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    # A body the handler validates itself, with this model, after a check that must see the raw bytes first
    # (request signatures); described like `body` but not parsed by the wrapper.
    documented_body: type[BaseModel] | None = None
    form: bool = False
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = False
    rate: RateTier | None = "general"
    errors: tuple[int, ...] = ()
    response_headers: tuple[str, ...] = ()
    content_type: str = "application/json"
    uow: Transaction | None = None
    # The path this operation repeats for older clients; /openapi.json marks it as an alias of that one.
    alias_of: str | None = None
    # The feature (core.access.policy) whose level the signed-in user needs; checked right after authentication.
    access: str | None = None


def route(
    method: str,
    path: str,
    *,
    summary: str,
    description: str = "",
    tags: Sequence[str] = (),
    body: type[BaseModel] | None = None,
    documented_body: type[BaseModel] | None = None,
    form: bool = False,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: bool = False,
    rate: RateTier | Literal["default"] | None = "default",
    errors: Sequence[int] = (),
    response_headers: Sequence[str] = (),
    content_type: str = "application/json",
    uow: Transaction | None = None,
    aliases: Sequence[str] = (),
    access: str | None = None,
) -> Callable[[Handler], Handler]:
    """Declare a module-level handler; `aliases` are further paths served by the same handler; `access` names the
    feature whose level the caller needs (403 naming the level otherwise)."""
    if access is not None and not auth:
        raise ValueError("a route that needs an access level must authenticate (auth=True)")

    def decorate(handler: Handler) -> Handler:
        declared: list[Operation] = list(getattr(handler, "__operations__", []))
        for alias in (None, *aliases):
            declared.append(
                Operation(
                    method=method.upper(),
                    path=alias or path,
                    handler=handler,
                    summary=summary,
                    description=description or (handler.__doc__ or "").strip(),
                    tags=tuple(tags),
                    body=body,
                    documented_body=documented_body,
                    form=form,
                    query=query,
                    response=response,
                    status=status,
                    auth=auth,
                    rate=("user" if auth else "general") if rate == "default" else rate,
                    errors=tuple(errors),
                    response_headers=tuple(response_headers),
                    content_type=content_type,
                    uow=uow,
                    alias_of=path if alias else None,
                    access=access,
                )
            )
        handler.__operations__ = declared  # type: ignore[attr-defined]
        return handler

    return decorate


@dataclass
class Api:
    title: str
    version: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)

    def include(self, other: Api) -> None:
        self.operations.extend(other.operations)

    @classmethod
    def collect(cls, module: ModuleType) -> Api:
        """The operations declared with `route` in a module, in the order the handlers are defined."""
        api = cls(title=module.__name__, version="")
        for value in vars(module).values():
            if callable(value) and getattr(value, "__module__", None) == module.__name__:
                api.operations.extend(getattr(value, "__operations__", ()))
        return api

    def register(self, app: web.Application) -> None:
        for operation in self.operations:
            wrapped = _wrap(operation)
            for path in _path_variants(operation.path):
                app.router.add_route(operation.method, path, wrapped)

    def openapi(self) -> dict[str, Any]:
        return build_openapi(self)


def _path_variants(path: str) -> list[str]:
    # Existing clients call both "/x" and "/x/"; both reach the handler without a redirect.
    if path == "/":
        return [path]
    base = path.rstrip("/")
    return [base, base + "/"]


def _wrap(operation: Operation) -> Handler:
    body_model = operation.body
    query_model = operation.query
    handler = operation.handler
    rate, auth, transaction, access = operation.rate, operation.auth, operation.uow, operation.access
    if body_model is None and query_model is None and rate is None and not auth and transaction is None:
        return handler

    async def call(request: web.Request, args: list[Any]) -> web.StreamResponse:
        if transaction is None:
            return await handler(request, *args)
        # The request's one unit of work, opened after the input was validated and closed before the answer
        # leaves: the answer reports only what was committed.
        async def work(uow: UnitOfWork) -> web.StreamResponse:
            uow.language = caller_language(request, request.app[TRANSLATIONS])
            request[UOW] = uow
            return await handler(request, *args)

        return await request.app[CONTAINER].run(work, write=transaction == "write")

    async def wrapped(request: web.Request) -> web.StreamResponse:
        headers = await guard(request, rate=rate, auth=auth, access=access) if rate is not None or auth else None
        try:
            args: list[Any] = []
            if body_model is not None:
                args.append(await parse_body(request, body_model, allow_form=operation.form))
            if query_model is not None:
                args.append(validate(query_model, single_values(request.query)))
            response = await call(request, args)
        except ApiError as exc:
            rate_headers = request.get(LATE_RATE_HEADERS, headers)
            if rate_headers:
                exc.headers = {**rate_headers, **exc.headers}
            raise
        except DomainError as exc:
            error = ApiError.from_domain(exc)
            rate_headers = request.get(LATE_RATE_HEADERS, headers)
            if rate_headers:
                error.headers = {**rate_headers, **error.headers}
            raise error from None
        rate_headers = request.get(LATE_RATE_HEADERS, headers)
        if rate_headers:
            response.headers.update(rate_headers)
        return response

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    return wrapped


def invalid(loc: list[str | int], msg: str, kind: str) -> ApiError:
    return ApiError(422, "Validation failed", errors=[{"loc": loc, "msg": msg, "type": kind}])


def single_values(values: MultiDictProxy[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """A query or form as a plain mapping; a repeated field is refused rather than silently taking one value."""
    result: dict[str, Any] = {}
    for key in values:
        items = values.getall(key) if isinstance(values, MultiDictProxy) else [values[key]]
        if len(items) > 1:
            raise invalid([key], "Repeated field", "repeated")
        result[key] = items[0]
    return result


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "Validation failed", errors=validation_items(exc)) from None


def validation_items(exc: ValidationError) -> list[dict[str, Any]]:
    # Only where and why: the offending input may be a password and must not be echoed.
    return [
        {"loc": [part for part in error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


async def parse_body(request: web.Request, model: type[M], *, allow_form: bool = False) -> M:
    content_type = request.content_type
    if content_type in _FORM_TYPES and allow_form:
        try:
            form = await request.post()
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "The form is not valid UTF-8 form data", error_code="MALFORMED_FORM") from None
        if any(not isinstance(value, str) for value in form.values()):
            raise invalid([], "Files are not accepted", "file")
        return validate(model, single_values(form))
    raw = await request.read()
    if content_type not in _JSON_TYPES and not (content_type == "application/octet-stream" and not raw):
        if allow_form:
            raise ApiError(415, "Send the body as application/json or a form")
        raise ApiError(415, "Send the body as application/json")
    return validate(model, json_object(raw))


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from a body: {} for an empty one; 400 for malformed or too deeply nested JSON."""
    if not raw:
        return {}
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ApiError(400, "JSON nested too deeply", error_code="MALFORMED_JSON")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Malformed JSON body", error_code="MALFORMED_JSON") from None
    if not isinstance(data, dict):
        raise invalid([], "Expected a JSON object", "object")
    return data


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, found without parsing (strings are skipped whole)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(raw):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def respond(
    model: type[BaseModel], value: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Answer with `model` filled from a DTO's attributes."""
    return model_response(model.model_validate(value, from_attributes=True), status=status, headers=headers)


def model_response(model: BaseModel, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=model.model_dump_json(),
        content_type="application/json",
        headers=headers,
    )


# --- OpenAPI -------------------------------------------------------------------------------------------------------

_REF = "#/components/schemas/{model}"


def _schema_ref(
    model: type[BaseModel], components: dict[str, Any], *, mode: Literal["validation", "serialization"] = "validation"
) -> dict[str, Any]:
    # Answers are described as they are written (serialization), bodies as they are read.
    schema = model.model_json_schema(ref_template=_REF, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": _REF.format(model=model.__name__)}


def openapi_path(path: str) -> str:
    return _PATH_PARAM.sub(lambda match: "{" + match.group(1) + "}", path)


def build_openapi(api: Api) -> dict[str, Any]:
    components: dict[str, Any] = {}
    error_ref = _schema_ref(ErrorResponse, components)
    paths: dict[str, dict[str, Any]] = {}
    for operation in api.operations:
        op: dict[str, Any] = {
            "summary": operation.summary,
            "operationId": f"{operation.method.lower()}_{operation.handler.__name__}",
            "tags": list(operation.tags),
        }
        if operation.description:
            op["description"] = operation.description
        if operation.access is not None:
            op["x-access-feature"] = operation.access
        if operation.alias_of is not None:
            op["operationId"] += "_alias_" + re.sub(r"\W+", "_", operation.path).strip("_")
            op["description"] = f"Alias of `{operation.alias_of}`, kept for older clients. " + op.get("description", "")
            op["x-alias-of"] = operation.alias_of
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(operation.path)
        ]
        if operation.query is not None:
            schema = operation.query.model_json_schema(ref_template=_REF)
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if parameters:
            op["parameters"] = parameters
        body_model = operation.body or operation.documented_body
        if body_model is not None:
            ref = _schema_ref(body_model, components)
            content: dict[str, Any] = {"application/json": {"schema": ref}}
            if operation.form:
                content["application/x-www-form-urlencoded"] = {"schema": ref}
            op["requestBody"] = {"required": True, "content": content}
        responses: dict[str, Any] = {}
        success: dict[str, Any] = {"description": "Success"}
        if operation.response is not None:
            ref = _schema_ref(operation.response, components, mode="serialization")
            success["content"] = {operation.content_type: {"schema": ref}}
        elif operation.content_type != "application/json" and operation.status != 204:
            # Files and pages (PNG, CSV, HTML) say what they are.
            success["content"] = {operation.content_type: {"schema": {"type": "string"}}}
        if operation.response_headers:
            success["headers"] = {name: {"schema": {"type": "string"}} for name in operation.response_headers}
        responses[str(operation.status)] = success
        statuses = set(operation.errors)
        if body_model is not None or operation.query is not None:
            statuses |= {400, 413, 415, 422} if body_model is not None else {400, 422}
        if operation.rate is not None:
            statuses.add(429)
            success.setdefault("headers", {}).update({name: {"schema": {"type": "integer"}} for name in RATE_HEADERS})
        if operation.uow is not None or operation.auth or operation.rate is not None:
            # The database's one writer (SQLite) stayed busy past its timeout: retry after Retry-After.
            statuses.add(503)
        if operation.auth:
            # 403: the access policy (a disabled account, or a level the route's feature needs).
            statuses |= {401, 403}
            op["security"] = [{"bearerAuth": []}]
        for status in sorted(statuses):
            responses[str(status)] = {
                "description": default_code(status).replace("_", " ").capitalize(),
                "content": {"application/json": {"schema": error_ref}},
            }
        op["responses"] = responses
        paths.setdefault(openapi_path(operation.path), {})[operation.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
