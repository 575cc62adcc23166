"""The whole life of an env over HTTP, with pushed progress, through the real engine."""

from __future__ import annotations

import json
import subprocess

from ..helpers import installed


async def test_create_install_export_delete_over_http(api, sandbox, channels):
    final, events = await api.create(channels.main_url, "web", "python", "ipykernel")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "queued" and kinds[-1] == "done"
    assert {"solve-start", "solve-done", "plan", "link"} <= set(kinds)
    links = [e for e in events if e["event"] == "link"]
    assert links[-1]["done"] == links[-1]["total"] == len(installed(sandbox.envs / "web"))
    prefix = sandbox.envs / "web"
    ok = subprocess.run([str(prefix / "bin" / "python"), "-c", "import ipykernel"])
    assert ok.returncode == 0
    # The new env has a kernel at once, without a restart or a manual step.
    response = await api.fetch("api", "kernelspecs")
    assert "conda-env-web-python3" in json.loads(response.body)["kernelspecs"]

    _, listing = await api.call("GET", "environments")
    listed = {e["name"]: e for e in listing["environments"]}
    assert {k: listed["web"][k] for k in ("name", "key", "prefix", "is_root", "read_only")} == {
        "name": "web",
        "key": "web",  # what the routes take: a named env's key is its name
        "prefix": str(prefix),
        "is_root": False,
        "read_only": False,
    }

    await api.run(
        "POST",
        "environments",
        "web",
        "packages",
        body={"specs": ["delta=1.0"], "channels": [channels.main_url], "override_channels": True},
    )
    _, env = await api.call("GET", "environments", "web")
    assert {"delta": "1.0"}.items() <= {p["name"]: p["version"] for p in env["packages"]}.items()

    await api.run(
        "PATCH",
        "environments",
        "web",
        "packages",
        body={"specs": ["delta"], "channels": [channels.main_url], "override_channels": True},
    )
    assert installed(prefix)["delta"][0] == "1.1"

    response, text = await api.call(
        "GET", "environments", "web", "export", params={"format": "yml"}
    )
    assert "attachment" in response.headers["Content-Disposition"]
    assert "- delta=1.1=" in text and "- ipykernel=" in text
    _, history = await api.call(
        "GET", "environments", "web", "export", params={"format": "from-history"}
    )
    assert "- delta\n" in history

    _, revisions = await api.call("GET", "environments", "web", "revisions")
    assert len(revisions["revisions"]) == 3
    await api.run("POST", "environments", "web", "revisions", body={"revision": 1})
    assert installed(prefix)["delta"][0] == "1.0"

    await api.run("DELETE", "environments", "web", "packages", params={"spec": "delta"})
    assert "delta" not in installed(prefix)

    await api.run("DELETE", "environments", "web")
    assert not prefix.exists()
    _, listing = await api.call("GET", "environments")
    assert all(e["name"] != "web" for e in listing["environments"])


async def test_create_from_an_uploaded_environment_file(api, sandbox, channels):
    yml = f"name: ignored\nchannels: [{channels.main_url}]\ndependencies:\n  - delta=1.0\n"
    await api.run(
        "POST",
        "environments",
        body={
            "name": "uploaded",
            "file": yml,
            "filename": "environment.yml",
            "override_channels": True,
        },
    )
    assert installed(sandbox.envs / "uploaded")["delta"][0] == "1.0"


async def test_failed_task_reports_the_solver_reason(api, sandbox, channels):
    final, events = await api.create(channels.main_url, "nope", "broken-dep", state="failed")
    assert final["error"]["reason"] == "unsatisfiable"
    assert "does-not-exist" in final["error"]["message"]
    assert not (sandbox.envs / "nope").exists()


async def test_late_subscriber_gets_every_event_replayed(api, sandbox, channels):
    final, first = await api.create(channels.main_url, "late", "delta")
    again = await api.events(final["id"])
    assert again == first


async def test_clone_kernels_search_usage_and_clean_over_http(api, sandbox, channels):
    body = {
        "name": "orig",
        "specs": ["python", "ipykernel", "delta=1.0"],
        "channels": [channels.main_url],
        "override_channels": True,
    }
    await api.run("POST", "environments", body=body)
    await api.run("POST", "environments", "orig", "clone", body={"name": "twin"})
    assert installed(sandbox.envs / "twin") == installed(sandbox.envs / "orig")

    _, kernels = await api.call("GET", "kernels")
    names = {k["name"] for k in kernels["kernels"]}
    assert {"conda-env-orig-python3", "conda-env-twin-python3"} <= names
    response = await api.fetch("api", "kernelspecs")
    assert "conda-env-twin-python3" in json.loads(response.body)["kernelspecs"]

    _, found = await api.call("GET", "search", params={"q": "alpha", "channel": channels.main_url})
    assert [p["version"] for p in found["packages"]] == ["2.0", "1.5", "1.0"]

    _, sized = await api.call("GET", "environments", params={"sizes": "true"})
    twin_size = next(e for e in sized["environments"] if e["name"] == "twin")["size"]
    assert twin_size["real_bytes"] > 0 and twin_size["shared_bytes"] > twin_size["own_bytes"]

    _, usage = await api.call("GET", "usage")
    trees = {t["path"]: t for t in usage["trees"]}
    twin = trees[str(sandbox.envs / "twin")]
    assert twin["inodes"] > 0 and twin["shared_bytes"] > twin["own_bytes"]

    _, plan = await api.call("GET", "clean", params={"category": "packages"})
    kept = {k["name"] for k in plan["kept"] if k["reason"] == "in-use"}
    assert any(name.startswith("python-3") for name in kept)
    await api.run("DELETE", "environments", "twin")
