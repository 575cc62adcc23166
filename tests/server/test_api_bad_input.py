"""Over 100 bad requests: every one a 4xx with a message, none a 5xx, nothing changed on disk."""

from __future__ import annotations

import json

import pytest

from ..helpers import tree_snapshot


@pytest.fixture
def envmgr_config(channels):
    return {"allowed_channels": [channels.main_url, channels.extra_url]}


BAD_NAMES = [
    "",
    "..",
    ".",
    "../x",
    "a/b",
    "/abs",
    "a b",
    "a\tb",
    "a\nb",
    "a\x00b",
    "ünï",
    "е" * 3,  # Cyrillic look-alikes
    "a;rm -rf ~",
    "$(id)",
    "`id`",
    "-rf",
    "x" * 101,
    "base",
    "root",
    "a:b",
    "a#b",
    "taken",
]
BAD_SPECS = [
    ["delta >=>= 1"],
    [""],
    ["*"],
    ["delta;;x"],
    ["x" * 600],
    ["del\nta"],
    ["a", "a"],
    [";"],
    ["delta[version='>1'"],
    ["::"],
    [" "],
    ["=1.0"],
    ["delta", "broken-dep"],
]
WRONG_TYPES = [
    {"name": 5, "specs": ["delta"]},
    {"name": None, "specs": ["delta"]},
    {"name": ["x"], "specs": ["delta"]},
    {"name": "ok1", "specs": "delta"},
    {"name": "ok1", "specs": [1]},
    {"name": "ok1", "specs": [None]},
    {"name": "ok1", "specs": {"delta": 1}},
    {"name": "ok1", "specs": ["delta"], "channels": "x"},
    {"name": "ok1", "specs": ["delta"], "channels": [1]},
    {"name": "ok1", "specs": ["delta"], "override_channels": "yes"},
    {"name": "ok1", "specs": ["delta"], "override_channels": 1},
    {"name": "ok1", "specs": ["delta"], "surprise": True},
    {"name": "ok1", "specs": []},
    {"name": "ok1"},
    {"name": "ok1", "file": 42},
    {"name": "ok1", "file": "dependencies: [delta]", "filename": 3},
    {"name": "ok1", "specs": ["delta"] * 201},
]
BAD_CHANNELS = [
    "https://evil.example/conda-forge",
    "conda-forge",
    "http://127.0.0.1:9/x",
    "file:///etc",
    "ftp://x/y",
    "bad name!",
    "",
    "file:///nonexistent",
    "javascript:alert(1)",
    "../../etc",
]
BAD_YAML = [
    "dependencies: [delta\n",
    "name: x\n\tdependencies: []\n",
    "- a\n- b\n",
    "dependencies:\n  - {conda: x}\n",
    "dependencies: delta\n",
    "dependencies:\n  - delta\nsurprise: 1\n",
    "dependencies:\n  - pip:\n    - requests\n",
    "channels: x\ndependencies: [delta]\n",
    "@EXPLICIT\nnot-a-url\n",
    "@EXPLICIT\n",
    "version: 6\nenvironments: {}\npackages: [1]\n",
    "!!python/object/apply:os.system ['id']\n",
]


def _cases(main_url):
    cases = []
    for name in BAD_NAMES:
        cases.append(
            (
                "POST",
                ("environments",),
                {
                    "name": name,
                    "specs": ["delta"],
                    "channels": [main_url],
                    "override_channels": True,
                },
            )
        )
    for specs in BAD_SPECS:
        cases.append(
            (
                "POST",
                ("environments",),
                {"name": "ok1", "specs": specs, "channels": [main_url], "override_channels": True},
            )
        )
        cases.append(
            (
                "POST",
                ("environments", "taken", "packages"),
                {"specs": specs, "channels": [main_url], "override_channels": True},
            )
        )
    for body in WRONG_TYPES:
        cases.append(("POST", ("environments",), body))
    for channel in BAD_CHANNELS:
        cases.append(
            (
                "POST",
                ("environments",),
                {
                    "name": "ok1",
                    "specs": ["delta"],
                    "channels": [channel],
                    "override_channels": True,
                },
            )
        )
        cases.append(
            ("POST", ("environments", "taken", "packages"), {"specs": [f"{channel}::delta"]})
        )
    for text in BAD_YAML:
        cases.append(
            ("POST", ("environments",), {"name": "ok1", "file": text, "override_channels": True})
        )
    for env in ("nope", "..", "%2e%2e", "a b"):
        cases += [
            ("GET", ("environments", env), None),
            ("POST", ("environments", env, "packages"), {"specs": ["delta"]}),
            ("DELETE", ("environments", env), None),
        ]
    cases += [
        ("POST", ("environments",), "not json"),
        ("POST", ("environments",), "[1, 2]"),
        ("POST", ("environments",), json.dumps({"name": "big", "specs": ["x" * (2 << 20)]})),
        ("GET", ("environments", "taken", "export"), {"params": {"format": "zip"}}),
        ("POST", ("environments", "taken", "revisions"), {"revision": 99}),
        ("POST", ("environments", "taken", "revisions"), {"revision": -1}),
        ("POST", ("environments", "taken", "revisions"), {"revision": "1"}),
        ("POST", ("environments", "taken", "revisions"), {"revision": True}),
        ("PATCH", ("environments", "taken", "packages"), {"specs": ["alpha"]}),
        ("PATCH", ("environments", "taken", "packages"), {"all": "yes"}),
        ("DELETE", ("environments", "taken", "packages"), None),
        ("GET", ("tasks", "0123456789ab"), None),
        ("DELETE", ("tasks", "0123456789ab"), None),
        ("GET", ("tasks", "not-a-task"), None),
    ]
    return cases


async def test_over_a_hundred_bad_requests_get_4xx_and_change_nothing(api, sandbox, channels):
    await api.create(channels.main_url, "taken", "delta=1.0")
    cases = _cases(channels.main_url)
    assert len(cases) >= 100
    snap = tree_snapshot(sandbox.root, skip=(str(sandbox.pkgs / "cache"),))
    failures = []
    for method, path, body in cases:
        kwargs = {"method": method, "raise_error": False}
        if isinstance(body, dict) and "params" in body:
            kwargs["params"] = body["params"]
        elif body is not None:
            kwargs["body"] = body if isinstance(body, str) else json.dumps(body)
        elif method in ("POST", "PATCH"):
            kwargs["body"] = "{}"
        response = await api.fetch("envmgr", "api", *path, **kwargs)
        code = response.code
        if code == 202:  # accepted as a task: it must then fail, with a message
            task_id = json.loads(response.body)["id"]
            await api.events(task_id)
            _, task = await api.call("GET", "tasks", task_id)
            ok = task["state"] == "failed" and 400 <= task["error"].get("status", 500) < 500
            ok = ok and task["error"]["message"]
        else:
            message = ""
            try:
                message = json.loads(response.body).get("message", "")
            except ValueError:
                pass
            ok = 400 <= code < 500 and bool(message)
        if not ok:
            failures.append((method, path, str(body)[:80], code, response.body[:200]))
    assert not failures, "\n".join(map(str, failures))
    assert tree_snapshot(sandbox.root, skip=(str(sandbox.pkgs / "cache"),)) == snap
