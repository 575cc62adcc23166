"""The OpenAPI document shipped with the package: valid, complete, and true to the live server."""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any

import pytest
import yaml

from jupyter_envmgr.engine.export import EXPORT_FORMATS
from jupyter_envmgr.server.handlers import ROUTES

VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
FRAMEWORK = ("tornado.", "jupyter_server.", "builtins")
PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    resource = files("jupyter_envmgr.server") / "openapi.yaml"
    assert resource.is_file(), "openapi.yaml is not inside the package (it would miss the wheel)"
    return yaml.safe_load(resource.read_text(encoding="utf-8"))


def _route_operations() -> set[tuple[str, str]]:
    """(path template, verb) for every verb a handler in ROUTES answers.

    A verb counts when a class in the handler's MRO other than tornado's and jupyter_server's
    defines it, so an inherited verb (TaskEventsHandler gets DELETE from TaskHandler) is served,
    hence documented, too; jupyter_server's own OPTIONS (CORS preflight) is left out.
    """
    ops = set()
    for pattern, handler in ROUTES:
        path = PARAM.sub(lambda m: "{" + m.group(1) + "}", pattern)
        for verb in VERBS:
            if any(
                verb in vars(cls) and not cls.__module__.startswith(FRAMEWORK)
                for cls in handler.__mro__
            ):
                ops.add((path, verb))
    return ops


def _documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, verb) for path, item in doc["paths"].items() for verb in item if verb in VERBS}


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            assert part in target, f"unresolved $ref {ref}"
            target = target[part]
        node = target
    return node


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _structural_check(doc: dict[str, Any]) -> None:
    """What openapi_spec_validator would catch that matters here, when it is not installed."""
    assert doc["openapi"] == "3.0.3"
    assert doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        _resolve(doc, {"$ref": ref})
    schemes = doc["components"]["securitySchemes"]
    for requirement in doc["security"]:
        assert set(requirement) <= set(schemes)
    for path, item in doc["paths"].items():
        assert path.startswith("/envmgr/api/"), path
        shared = [_resolve(doc, p) for p in item.get("parameters", [])]
        for verb, op in item.items():
            if verb not in VERBS:
                assert verb in ("parameters", "summary", "description"), (path, verb)
                continue
            assert op.get("summary"), (path, verb)
            params = shared + [_resolve(doc, p) for p in op.get("parameters", [])]
            for param in params:
                assert {"name", "in", "schema"} <= set(param), (path, verb, param)
                assert param["in"] in ("path", "query", "header", "cookie")
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), (path, verb)
            assert all(p["required"] for p in params if p["in"] == "path"), (path, verb)
            responses = op["responses"]
            assert responses, (path, verb)
            for code, response in responses.items():
                assert re.fullmatch(r"[1-5]\d\d|default", str(code)), (path, verb, code)
                assert _resolve(doc, response).get("description"), (path, verb, code)
            assert any(str(c).startswith("2") for c in responses), (path, verb)
            assert "401" in responses and "403" in responses, (path, verb)
            if verb in ("post", "patch") and path.split("/")[-1] != "events":
                body = _resolve(doc, op["requestBody"])
                assert "application/json" in body["content"], (path, verb)


def test_document_is_valid_openapi(doc):
    try:
        from openapi_spec_validator import validate
    except ImportError:
        _structural_check(doc)
    else:
        validate(doc)
        _structural_check(doc)


def test_every_route_and_verb_is_documented_and_nothing_else(doc):
    routes = _route_operations()
    documented = _documented_operations(doc)
    assert len(routes) >= 20
    assert routes - documented == set(), "routes missing from openapi.yaml"
    assert documented - routes == set(), "openapi.yaml documents routes the server lacks"


def test_long_operations_answer_202_with_a_task_and_errors_share_one_schema(doc):
    task = "#/components/responses/TaskAccepted"
    for path, item in doc["paths"].items():
        for verb, op in item.items():
            if verb not in VERBS:
                continue
            for code, response in op["responses"].items():
                if str(code).startswith("4"):
                    schema = _resolve(doc, response)["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, verb, code)
            if op.get("x-reads-only"):
                # A POST only because its input is a JSON body (notebook/drift): it changes
                # nothing, answers 200, and never a task.
                assert "202" not in op["responses"] and "200" in op["responses"], (path, verb)
            elif op.get("x-answers-at-once"):
                # Quick and outside any env (submitting a batch job): 201, never a task.
                assert "202" not in op["responses"] and "201" in op["responses"], (path, verb)
            elif verb in ("post", "patch") or (verb == "delete" and "tasks" not in path):
                assert op["responses"]["202"] == {"$ref": task}, (path, verb)
    assert doc["components"]["schemas"]["Error"]["required"] == ["message", "reason"]
    sse = doc["paths"]["/envmgr/api/tasks/{task_id}/events"]["get"]["responses"]["200"]
    assert list(sse["content"]) == ["text/event-stream"]
    scheme = doc["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


def test_query_parameters_and_bodies_match_the_service(doc):
    paths = doc["paths"]

    def query(path, verb):
        return {p["name"]: p for p in paths[path][verb].get("parameters", [])}

    env = "/envmgr/api/environments/{name}"
    export = query(env + "/export", "get")
    assert export["format"]["schema"]["enum"] == list(EXPORT_FORMATS)
    assert export["platform"]["schema"]["type"] == "array" and export["platform"]["explode"]
    spec = query(env + "/packages", "delete")["spec"]
    assert spec["schema"]["type"] == "array" and spec["explode"]
    assert set(query("/envmgr/api/search", "get")) == {"q", "channel"}
    assert set(query("/envmgr/api/usage", "get")) == {"env"}
    assert set(query("/envmgr/api/clean", "get")) == {"category"}

    schemas = doc["components"]["schemas"]

    def fields(name):
        schema = schemas[name]
        assert schema["additionalProperties"] is False, name
        return {k: v.get("type") for k, v in schema["properties"].items()}

    lists = {"specs": "array", "channels": "array", "override_channels": "boolean"}
    assert fields("CreateRequest") == {"name": "string", **lists, "file": "string",
                                       "filename": "string", "lock_env": "string"}  # fmt: skip
    assert fields("InstallRequest") == lists
    assert fields("UpdateRequest") == {**lists, "all": "boolean"}
    assert fields("RollbackRequest") == {"revision": "integer"}
    assert fields("CloneRequest") == {"name": "string"}
    assert fields("CleanRequest") == {"categories": "array"}


def _check(doc: dict[str, Any], schema: Any, value: Any, where: str) -> list[str]:
    """Required properties, types and nullability: enough to see a document drift from the
    server's real answers."""
    schema = _resolve(doc, schema)
    problems: list[str] = []
    for part in schema.get("allOf", []):
        problems += _check(doc, part, value, where)
    if value is None:
        return [] if schema.get("nullable") or not schema.get("type") else [f"{where}: null"]
    kind = schema.get("type")
    python = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
    }
    if kind and not isinstance(value, python[kind]):
        return problems + [f"{where}: {type(value).__name__}, not {kind}"]
    if kind in ("integer", "number") and isinstance(value, bool):
        return problems + [f"{where}: a boolean, not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        problems += [f"{where}.{k}: missing" for k in schema.get("required", []) if k not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += _check(doc, sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _check(doc, schema["items"], item, f"{where}[{i}]")
    return problems


def _response_schema(doc, path, verb, code="200"):
    response = _resolve(doc, doc["paths"][path][verb]["responses"][code])
    return response["content"]["application/json"]["schema"]


async def test_live_answers_have_what_the_document_promises(doc, api, channels):
    created = _response_schema(doc, "/envmgr/api/environments", "post", "202")
    response, task = await api.call(
        "POST",
        "environments",
        body={
            "name": "documented",
            "specs": ["delta=1.0"],
            "channels": [channels.main_url],
            "override_channels": True,
        },
        expect=202,
    )
    assert _check(doc, created, task, "task") == []
    await api.events(task["id"])
    _, final = await api.call("GET", "tasks", task["id"])
    assert final["state"] == "done", final
    task_schema = _response_schema(doc, "/envmgr/api/tasks/{task_id}", "get")
    assert _check(doc, task_schema, final, "task") == []

    _, listing = await api.call("GET", "environments")
    assert any(e["name"] == "documented" for e in listing["environments"])
    schema = _response_schema(doc, "/envmgr/api/environments", "get")
    assert _check(doc, schema, listing, "environments") == []
    assert _check(doc, schema, {"environments": [{}]}, "e") == [  # the check can fail
        f"e.environments[0].{k}: missing"
        for k in ("name", "key", "prefix", "is_root", "read_only", "read_only_reason")
    ]

    _, settings = await api.call("GET", "settings")
    schema = _response_schema(doc, "/envmgr/api/settings", "get")
    assert _check(doc, schema, settings, "settings") == []

    _, error = await api.call("GET", "environments", "missing", expect=404)
    schema = _response_schema(doc, "/envmgr/api/environments/{name}", "get", "404")
    assert _check(doc, schema, error, "error") == []

    too_big = '{"name": "x", "specs": ["' + "x" * (2 << 20) + '"]}'
    _, error = await api.call("POST", "environments", body=too_big, expect=413)
    schema = _response_schema(doc, "/envmgr/api/environments", "post", "413")
    assert _check(doc, schema, error, "error") == [] and error["reason"] is None
