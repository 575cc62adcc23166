"""Every route is authenticated and authorized; bad input never reaches the disk."""

from __future__ import annotations

import re

import pytest
from jupyter_server.auth.authorizer import Authorizer

from jupyter_envmgr.server.handlers import ROUTES

from ..helpers import tree_snapshot

METHODS = ("get", "post", "patch", "delete")


def _concrete(pattern: str) -> str:
    path = re.sub(r"\(\?P<name>[^)]*\)", "someenv", pattern)
    return re.sub(r"\(\?P<task_id>[^)]*\)", "abc123", path)


def _route_methods():
    for pattern, handler in ROUTES:
        for method in METHODS:
            if method in vars(handler) or any(method in vars(b) for b in handler.__mro__[1:3]):
                if getattr(handler, method) is not getattr(object, method, None):
                    yield _concrete(pattern), method.upper()


ALL = sorted(set(_route_methods()))


def test_route_enumeration_covers_every_handler():
    handlers = {h for _, h in ROUTES}
    assert len(ALL) >= len(handlers) and len(ALL) >= 14


@pytest.mark.parametrize("path, method", ALL)
async def test_requests_without_a_token_are_refused(jp_fetch, sandbox, path, method):
    snap = tree_snapshot(sandbox.root)
    body = "{}" if method in ("POST", "PATCH") else None
    for auth in ("", "token not-the-token"):
        response = await jp_fetch(
            *path.strip("/").split("/"),
            method=method,
            body=body,
            headers={"Authorization": auth},
            raise_error=False,
        )
        assert response.code in (401, 403), (path, method, auth, response.code)
    assert tree_snapshot(sandbox.root) == snap


class ReadOnlyAuthorizer(Authorizer):
    """A user who may look but not change: `read` on envmgr only."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "envmgr" or action == "read"


@pytest.fixture
def jp_server_authorizer():
    return ReadOnlyAuthorizer


@pytest.mark.parametrize(
    "path, method", [pm for pm in ALL if pm[1] != "GET"] + [("/envmgr/api/settings", "GET")]
)
async def test_a_user_without_write_is_forbidden(
    jp_fetch, jp_server_config, sandbox, jp_serverapp, path, method
):
    jp_serverapp.authorizer = ReadOnlyAuthorizer(
        parent=jp_serverapp, identity_provider=jp_serverapp.identity_provider
    )
    jp_serverapp.web_app.settings["authorizer"] = jp_serverapp.authorizer
    snap = tree_snapshot(sandbox.root)
    body = "{}" if method in ("POST", "PATCH") else None
    response = await jp_fetch(
        *path.strip("/").split("/"), method=method, body=body, raise_error=False
    )
    assert response.code == 403, (path, method, response.body)
    assert tree_snapshot(sandbox.root) == snap
