"""Two real unix users on a real JupyterHub, their servers started by the local-process spawner
and, once more, as SLURM jobs by batchspawner's SlurmSpawner. Each creates an env over REST
in their own server, runs its kernel (as themselves), sees their own envs and the site's, never
the other's, and cannot change the other's env or a site env. The admin policy is a
jupyter_server_config.d file in the users' venv: it holds for every user's server."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from jupyter_envmgr.channels import TestChannels

from ..helpers import tree_snapshot
from .conftest import Cluster

pytestmark = pytest.mark.hpc

PASSWORD = "envmgr-hpc-test"
RUN = uuid.uuid4().hex[:6]  # env names of this run: leftovers of another run never collide
SITE_ENV = "site-py"  # in a read_only_dirs folder of the admin policy
PUBLISHED_ENV = "published-py"  # in a folder the system-wide .condarc names
OWN_PKGS = f"~/.cache/envmgr-hpc-tests/pkgs-{RUN}"  # each user's own package cache


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, ready, timeout: float = 180, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def _site_env(cluster: Cluster, channels: TestChannels, prefix: Path) -> None:
    """An env the admin (root) makes with the CLI, from the site cache."""
    if (prefix / "conda-meta").exists():
        return
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA"))}
    env["CONDA_PKGS_DIRS"] = str(cluster.state / "site" / "pkgs")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_envmgr", "create", "-y", "-p", str(prefix),
         "-c", channels.main_url, "--override-channels", "python", "ipykernel"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def site_envs(cluster: Cluster, shared_channels: TestChannels) -> Path:
    """The admin's site folders, which users may only read: `envs/` named by the admin policy
    (read_only_dirs) and `published/` named by a system-wide .condarc (in $CONDA_ROOT, which
    the hub gives every server), each with one env; `pkgs/` is the site package cache."""
    site = cluster.state / "site"
    _site_env(cluster, shared_channels, site / "envs" / SITE_ENV)
    _site_env(cluster, shared_channels, site / "published" / PUBLISHED_ENV)
    (site / "condarc").mkdir(exist_ok=True)
    (site / "condarc" / ".condarc").write_text(f"envs_dirs:\n  - {site / 'published'}\n")
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(site)], check=True)
    return site / "envs"


@pytest.fixture(scope="module")
def site_policy(cluster: Cluster, shared_channels: TestChannels, site_envs: Path) -> Iterator[dict]:
    """The admin's policy for every single-user server, where an admin puts it: the
    jupyter_server_config.py of the environment the servers run from. (A JSON file in
    jupyter_server_config.d/ is not enough: jupyter_server reads only the extensions'
    enabling from there, not the EnvMgrExtension settings.)"""
    policy = {
        # The site cache (filled when the site env was made) before each user's own, as in
        # conda's multi-user pkgs_dirs; a fresh own cache per run, so what it receives is this
        # run's doing.
        "pkgs_dirs": [str(site_envs.parent / "pkgs"), OWN_PKGS],
        "default_channels": [shared_channels.main_url],
        "allowed_channels": [shared_channels.main_url],
        "read_only_dirs": [str(site_envs)],
    }
    conf = cluster.venv / "etc" / "jupyter" / "jupyter_server_config.py"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("".join(f"c.EnvMgrExtension.{k} = {v!r}\n" for k, v in policy.items()))
    conf.chmod(0o644)
    try:
        yield policy
    finally:
        conf.unlink(missing_ok=True)
        for user in cluster.users:
            shutil.rmtree(Path(pwd.getpwnam(user).pw_dir, ".cache", "envmgr-hpc-tests"), True)


def _hub_config(cluster: Cluster, spawner: str, port: int, token: str) -> str:
    venv = cluster.venv
    lines = [
        f"c.JupyterHub.bind_url = 'http://127.0.0.1:{port}'",
        f"c.JupyterHub.hub_port = {_free_port()}",
        f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{_free_port()}'",
        f"c.ConfigurableHTTPProxy.command = ['{cluster.proxy_bin / 'configurable-http-proxy'}']",
        "c.JupyterHub.authenticator_class = 'dummy'",
        f"c.DummyAuthenticator.password = '{PASSWORD}'",
        f"c.Authenticator.allowed_users = {set(cluster.users)!r}",
        f"c.JupyterHub.services = [{{'name': 'envmgr-tests', 'api_token': '{token}'}}]",
        "c.JupyterHub.load_roles = [{'name': 'envmgr-tests', 'services': ['envmgr-tests'],",
        "    'scopes': ['admin:users', 'admin:servers', 'access:servers', 'read:users',",
        "               'tokens']}]",
        f"c.Spawner.cmd = ['{venv}/bin/jupyterhub-singleuser']",
        f"c.Spawner.environment = {{'PATH': '{venv}/bin:/usr/local/bin:/usr/bin:/bin',",
        f"    'CONDA_ROOT': '{cluster.state / 'site' / 'condarc'}'}}",
        "c.Spawner.default_url = '/lab'",
        "c.Spawner.start_timeout = 180",
        "c.Spawner.http_timeout = 180",
    ]
    if spawner == "slurm":
        lines += [
            "c.JupyterHub.spawner_class = 'batchspawner.SlurmSpawner'",
            "c.BatchSpawnerBase.exec_prefix = '/usr/sbin/runuser -u {username} --'",
            f"c.BatchSpawnerBase.batchspawner_singleuser_cmd = "
            f"'{venv}/bin/batchspawner-singleuser'",
            "c.SlurmSpawner.batch_script = '''#!/bin/bash",
            "#SBATCH --partition=debug",
            "#SBATCH --time=1:00:00",
            "#SBATCH --job-name=jupyter-{{username}}",
            "#SBATCH --chdir={{homedir}}",
            "#SBATCH --output={{homedir}}/.jupyterhub-slurm-%j.log",
            "#SBATCH --export={{keepvars}}",
            "{{cmd}}",
            "'''",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Hub:
    url: str
    token: str
    spawner: str
    users: tuple[str, ...]
    user_tokens: dict[str, str]

    def api(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=120, **kw)


@pytest.fixture(scope="module", params=["local", "slurm"])
def hub(
    request: pytest.FixtureRequest, cluster: Cluster, site_policy: dict, tmp_path_factory
) -> Iterator[Hub]:
    spawner = request.param
    home = tmp_path_factory.mktemp(f"hub-{spawner}")
    port, token = _free_port(), secrets.token_hex(16)
    (home / "jupyterhub_config.py").write_text(_hub_config(cluster, spawner, port, token))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA", "JUPYTER"))}
    env["PATH"] = f"{cluster.venv}/bin:{cluster.proxy_bin}:/usr/local/bin:/usr/sbin:/usr/bin:/bin"
    log = (home / "jupyterhub.log").open("w")
    proc = subprocess.Popen(
        [str(cluster.venv / "bin" / "jupyterhub"), "-f", "jupyterhub_config.py"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    hub = Hub(f"http://127.0.0.1:{port}", token, spawner, cluster.users, {})
    try:
        _wait("the hub", lambda: proc.poll() is not None or _answers(hub.url + "/hub/api/"))
        assert proc.poll() is None, f"the hub exited:\n{(home / 'jupyterhub.log').read_text()}"
        yield hub
    finally:
        for user in cluster.users:
            hub.api("DELETE", f"/hub/api/users/{user}/server")
        for user in cluster.users:
            _wait(f"{user}'s server to stop", lambda u=user: not _server(hub, u), timeout=60)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def _server(hub: Hub, user: str) -> dict:
    return hub.api("GET", f"/hub/api/users/{user}").json()["servers"].get("", {})


@pytest.fixture(scope="module")
def servers(hub: Hub) -> Hub:
    """Both users log in with the hub's login form and get their single-user server."""
    for user in hub.users:
        browser = requests.Session()
        browser.get(hub.url + "/hub/login", timeout=30)
        xsrf = browser.cookies.get("_xsrf")
        login = browser.post(
            hub.url + "/hub/login?next=",
            data={"username": user, "password": PASSWORD, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=30,
        )
        assert login.status_code == 302, (login.status_code, login.text[:500])
        assert any(c.name.startswith("jupyterhub-session") for c in browser.cookies)
        started = hub.api("POST", f"/hub/api/users/{user}/server")
        assert started.status_code in (201, 202), started.text
        tok = hub.api("POST", f"/hub/api/users/{user}/tokens", json={"note": "envmgr tests"})
        assert tok.status_code == 201, tok.text
        hub.user_tokens[user] = tok.json()["token"]
    for user in hub.users:
        _wait(f"{user}'s server", lambda u=user: _server(hub, u).get("ready"))
    return hub


def _created(hub: Hub, user: str, name: str, specs: list[str]) -> dict:
    base = f"/user/{user}/envmgr/api"
    resp = hub.api("POST", f"{base}/environments", json={"name": name, "specs": specs})
    assert resp.status_code == 202, resp.text
    task = resp.json()["id"]

    def finished() -> dict | None:
        got = hub.api("GET", f"{base}/tasks/{task}").json()
        return got if got["state"] in ("done", "failed", "cancelled") else None

    done = _wait(f"{user}'s create", finished, timeout=600)
    assert done["state"] == "done", done["error"]
    return done


@pytest.fixture(scope="module")
def user_envs(servers: Hub) -> Iterator[dict[str, str]]:
    """Each user creates an env of their own, over REST in their own server, from the site's
    channel (the policy's default channel: the request names none)."""
    names = {user: f"{user.split('-')[-1]}-{servers.spawner}-{RUN}" for user in servers.users}
    for user, name in names.items():
        _created(servers, user, name, ["python", "ipykernel"])
    yield names
    for user, name in names.items():
        servers.api("DELETE", f"/user/{user}/envmgr/api/environments/{name}?force=true")


def _env_names(hub: Hub, user: str) -> dict[str, dict]:
    resp = hub.api("GET", f"/user/{user}/envmgr/api/environments")
    assert resp.status_code == 200, resp.text
    return {e["name"]: e for e in resp.json()["environments"]}


def _kernel_of(hub: Hub, user: str, prefix: str) -> str:
    specs = hub.api("GET", f"/user/{user}/api/kernelspecs").json()["kernelspecs"]
    found = [
        name
        for name, spec in specs.items()
        if (spec["spec"].get("metadata") or {}).get("envmgr", {}).get("env", {}).get("prefix")
        == prefix
        or prefix in spec["spec"]["argv"][0]
    ]
    assert found, f"no kernel of {prefix} in {user}'s kernelspecs: {sorted(specs)}"
    return found[0]


def test_each_user_logs_in_and_gets_their_own_server(servers: Hub):
    for user in servers.users:
        assert _server(servers, user)["ready"]
        # envmgr answers in the user's server, and it runs as the user: the envs it would
        # create go under the user's home.
        settings = servers.api("GET", f"/user/{user}/envmgr/api/settings")
        assert settings.status_code == 200, settings.text
        assert pwd.getpwnam(user).pw_dir in settings.text
    if servers.spawner == "slurm":
        jobs = subprocess.run(
            ["squeue", "-h", "-o", "%j %u %T"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for user in servers.users:
            assert f"jupyter-{user} {user} RUNNING" in jobs, jobs


def test_each_user_sees_their_own_env_and_the_site_env_never_the_others(
    servers: Hub, user_envs: dict[str, str], site_envs: Path
):
    alice, bob = servers.users
    for me, other in ((alice, bob), (bob, alice)):
        envs = _env_names(servers, me)
        assert user_envs[me] in envs
        assert envs[user_envs[me]]["prefix"].startswith(pwd.getpwnam(me).pw_dir)
        assert user_envs[other] not in envs
        assert not any(e["prefix"].startswith(pwd.getpwnam(other).pw_dir) for e in envs.values())
        published = site_envs.parent / "published" / PUBLISHED_ENV
        for prefix in (site_envs / SITE_ENV, published):
            site = [e for e in envs.values() if e["prefix"] == str(prefix)]
            assert site and site[0]["read_only"], envs
            # ...and its kernel.
            _kernel_of(servers, me, str(prefix))


def test_each_users_create_takes_the_site_cache_without_downloading_it_again(
    servers: Hub, user_envs: dict[str, str], site_envs: Path
):
    site_cache = site_envs.parent / "pkgs"
    site_before = tree_snapshot(site_cache)
    for user in servers.users:
        prefix = Path(_env_names(servers, user)[user_envs[user]]["prefix"])
        own = Path(OWN_PKGS.replace("~", pwd.getpwnam(user).pw_dir, 1))
        # Every package came from the site cache: the user's own cache holds pointers to its
        # entries, no archive of its own.
        names = {json.loads(r.read_text())["name"] for r in (prefix / "conda-meta").glob("*.json")}
        assert {"python", "ipykernel"} <= names
        pointers = [p for p in own.iterdir() if p.is_symlink()]
        assert len(pointers) == len(names), sorted(p.name for p in own.iterdir())
        assert all(p.resolve().parent == site_cache for p in pointers)
        assert not [p for p in own.iterdir() if p.name.endswith((".conda", ".tar.bz2"))]
        # How the site's files arrived (hard links or copies) is kept with the env.
        links = json.loads((prefix / "conda-meta" / "envmgr" / "links.json").read_text())
        assert links["site_packages"] == len(names), links
        hardlinks = Path("/proc/sys/fs/protected_hardlinks").read_text().strip()
        assert links["mode"] == ("copied" if hardlinks == "1" else "linked"), links
    assert tree_snapshot(site_cache) == site_before  # never written (no lock, no file)


def test_a_kernel_of_each_users_env_runs_as_that_user(servers: Hub, user_envs: dict[str, str]):
    for user in servers.users:
        prefix = _env_names(servers, user)[user_envs[user]]["prefix"]
        kernel = _kernel_of(servers, user, prefix)
        started = servers.api("POST", f"/user/{user}/api/kernels", json={"name": kernel})
        assert started.status_code == 201, started.text
        kid = started.json()["id"]
        try:
            code = "import os, sys; print(os.getuid(), sys.prefix)"
            out = asyncio.run(_execute(servers, user, kid, code))
        finally:
            servers.api("DELETE", f"/user/{user}/api/kernels/{kid}")
        uid, sys_prefix = out.split()
        assert int(uid) == pwd.getpwnam(user).pw_uid
        assert sys_prefix == prefix


async def _execute(hub: Hub, user: str, kernel_id: str, code: str) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = hub.url.replace("http", "ws", 1) + f"/user/{user}/api/kernels/{kernel_id}/channels"
    conn = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {hub.token}"}, request_timeout=120)
    )
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex,
              "msg_type": "execute_request", "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}  # fmt: skip
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content,
               "channel": "shell", "buffers": []}  # fmt: skip
    await conn.write_message(json.dumps(message))
    out: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(conn.read_message(), 120)
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        conn.close()


def test_a_user_cannot_change_the_others_env_or_a_site_env(servers: Hub, user_envs: dict[str, str]):
    alice, bob = servers.users
    alice_token = servers.user_tokens[alice]
    # Bob's server refuses Alice outright (the hub's own check).
    other = servers.api(
        "DELETE", f"/user/{bob}/envmgr/api/environments/{user_envs[bob]}", token=alice_token
    )
    assert other.status_code in (403, 404), (other.status_code, other.text[:300])
    # In her own server, Bob's env is not there to change.
    mine = servers.api(
        "DELETE", f"/user/{alice}/envmgr/api/environments/{user_envs[bob]}", token=alice_token
    )
    assert mine.status_code == 404, mine.text
    assert mine.json()["message"]
    # A site env is read-only: listed, but every change is refused with the reason.
    for method, path, body in (
        ("DELETE", f"environments/{SITE_ENV}", None),
        ("POST", f"environments/{SITE_ENV}/packages", {"specs": ["ipykernel"]}),
        ("DELETE", f"environments/{PUBLISHED_ENV}", None),
        ("POST", f"environments/{PUBLISHED_ENV}/packages", {"specs": ["ipykernel"]}),
    ):
        resp = servers.api(method, f"/user/{alice}/envmgr/api/{path}", token=alice_token, json=body)
        assert resp.status_code == 403, (method, path, resp.status_code, resp.text)
        assert resp.json()["message"] and resp.json()["reason"]
    # Bob's env is untouched.
    assert user_envs[bob] in _env_names(servers, bob)


def test_the_admin_policy_holds_in_every_users_server(servers: Hub, site_policy: dict):
    for user in servers.users:
        resp = servers.api(
            "POST",
            f"/user/{user}/envmgr/api/environments",
            json={"name": f"refused-{RUN}", "specs": ["python"],
                  "channels": ["https://conda.anaconda.org/conda-forge"]},
        )  # fmt: skip
        assert resp.status_code == 403, resp.text
        assert resp.json()["message"]
