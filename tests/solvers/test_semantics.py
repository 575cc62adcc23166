"""What each backend answers for the requests operations.py makes (create, install with locked
packages, update, update --all, constraints, channel priority, `channel::pkg`), on two small
hand-written channels: the same answers, each a valid solution."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import rattler

from jupyter_envmgr.engine.errors import ChannelError, Unsatisfiable
from jupyter_envmgr.engine.solution_check import solution_problems
from jupyter_envmgr.engine.solver import solve_problem
from jupyter_envmgr.engine.solver_interface import Problem

from .conftest import needs_libmamba

PLATFORMS = [rattler.Subdir("linux-64"), rattler.Subdir("noarch")]
ONE = {
    "a-1-0": {"depends": ["b"]},
    "a-2-0": {},
    "b-1-0": {},
    "b-2-0": {},
    "c-1-0": {"depends": ["b"]},
    "d-1-0": {"constrains": ["b <2"]},
    "f-1-0": {"depends": ["__glibc >=2.17"]},
    "x-1-0": {"depends": ["b >=3"]},
}
TWO = {"b-3-0": {}, "e-1-0": {}}


def _channel(root: Path, packages: dict[str, dict]) -> str:
    (root / "linux-64").mkdir(parents=True)
    (root / "linux-64" / "repodata.json").write_text(json.dumps({"packages": {}}))
    index = {}
    for dist, extra in packages.items():
        name, version, build = dist.split("-")
        index[f"{dist}.tar.bz2"] = {
            "name": name, "version": version, "build": build, "build_number": 0,
            "depends": [], "constrains": [], "subdir": "noarch", "timestamp": 1700000000000,
            **extra,
        }  # fmt: skip
    (root / "noarch").mkdir()
    (root / "noarch" / "repodata.json").write_text(
        json.dumps({"info": {"subdir": "noarch"}, "packages": index})
    )
    return root.as_uri()


@pytest.fixture(scope="module")
def chans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("semantics")
    return {"one": _channel(base / "one", ONE), "two": _channel(base / "two", TWO)}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> rattler.Gateway:
    return rattler.Gateway(cache_dir=tmp_path_factory.mktemp("gateway"))


def _records(gateway, chans, *dists: str) -> list[rattler.RepoDataRecord]:
    """The channels' records of `dists` (name-version-build), as if installed."""
    names = sorted({d.split("-")[0] for d in dists})
    groups = asyncio.run(gateway.query([rattler.Channel(chans["one"])], PLATFORMS, names))
    found = {f"{r.name.normalized}-{r.version}-{r.build}": r for g in groups for r in g}
    return [found[d] for d in dists]


def _solve(solver, gateway, channels, specs, locked=(), priority="strict") -> set[str]:
    problem = Problem(
        channels=list(channels),
        specs=[rattler.MatchSpec(s) for s in specs],
        locked=list(locked),
        platforms=PLATFORMS,
        channel_priority=priority,
    )
    records = asyncio.run(solve_problem(solver, gateway, problem))
    assert solution_problems(records, requested=problem.specs) == []
    return {f"{r.name.normalized}-{r.version}" for r in records}


def test_create_takes_the_highest_versions(solver, gateway, chans):
    assert _solve(solver, gateway, [chans["one"]], ["a", "c"]) == {"a-2", "c-1", "b-2"}


def test_install_moves_no_locked_package_that_need_not_move(solver, gateway, chans):
    locked = _records(gateway, chans, "b-1-0")
    assert _solve(solver, gateway, [chans["one"]], ["b", "c"], locked) == {"b-1", "c-1"}
    # ... unless the request needs it to.
    locked = _records(gateway, chans, "b-1-0", "c-1-0")
    assert _solve(solver, gateway, [chans["one"]], ["c", "b>=2"], locked) == {"b-2", "c-1"}


def test_update_frees_the_package_and_drops_what_it_no_longer_needs(solver, gateway, chans):
    # `update a` on an env with a-1 and b (its dependency): a is not locked, b is.
    locked = _records(gateway, chans, "b-1-0")
    assert _solve(solver, gateway, [chans["one"]], ["a"], locked) == {"a-2"}


def test_update_all_locks_nothing(solver, gateway, chans):
    assert _solve(solver, gateway, [chans["one"]], ["c"], ()) == {"c-1", "b-2"}


def test_constraints_hold_and_can_make_a_request_unsatisfiable(solver, gateway, chans):
    assert _solve(solver, gateway, [chans["one"]], ["d", "b"]) == {"d-1", "b-1"}
    with pytest.raises(Unsatisfiable, match="satisfied"):
        _solve(solver, gateway, [chans["one"]], ["d", "b>=2"])


@pytest.mark.parametrize(
    "order, priority, expected",
    [
        (("two", "one"), "strict", "b-3"),
        (("one", "two"), "strict", "b-2"),  # two's higher b is never considered
        (("one", "two"), "disabled", "b-3"),  # the highest version, wherever it is
    ],
)
def test_channel_priority(solver, gateway, chans, order, priority, expected):
    channels = [chans[name] for name in order]
    assert _solve(solver, gateway, channels, ["b"], priority=priority) == {expected}


def test_channel_prefixed_spec_takes_that_channel_even_at_lower_priority(solver, gateway, chans):
    channels = [chans["one"], chans["two"]]
    assert _solve(solver, gateway, channels, [f"{chans['two']}::b", "a"]) == {"b-3", "a-2"}
    assert _solve(solver, gateway, channels, [f"{chans['one']}::b"]) == {"b-2"}


def test_a_pinned_channel_is_that_very_channel(solver, gateway, tmp_path):
    # `site/conda-forge::b`: not b from another channel of the same name (a second mirror),
    # nor from a channel below it (a label), though both come first.
    site = _channel(tmp_path / "site" / "conda-forge", {"b-1-0": {}})
    other = _channel(tmp_path / "other" / "conda-forge", {"b-2-0": {}})
    label = _channel(tmp_path / "site" / "conda-forge" / "label" / "dev", {"b-3-0": {}})
    channels = [other, label, site]
    assert _solve(solver, gateway, channels, [f"{site}::b"]) == {"b-1"}
    assert _solve(solver, gateway, channels, [f"{label}::b"]) == {"b-3"}
    assert _solve(solver, gateway, channels, ["b"]) == {"b-2"}


def test_a_channel_that_cannot_be_read_is_a_channel_error(solver, gateway, chans, tmp_path):
    # A folder with no index, and an index that is not JSON: one ChannelError from either
    # backend (rattler's GatewayError, never a traceback or "cannot be satisfied").
    (tmp_path / "corrupt" / "noarch").mkdir(parents=True)
    (tmp_path / "corrupt" / "noarch" / "repodata.json").write_text("{not json")
    for bad in (tmp_path / "missing", tmp_path / "corrupt"):
        with pytest.raises(ChannelError, match="Could not read a channel's package index") as e:
            _solve(solver, gateway, [chans["one"], bad.as_uri()], ["a"])
        assert e.value.reason == "channel"


def test_the_independent_check_finds_what_is_wrong(gateway, chans):
    def problems(*dists, **kw):
        return solution_problems(_records(gateway, chans, *dists), **kw)

    assert problems("a-1-0", "b-1-0") == []
    assert problems("a-1-0") == ["a=1=0: its dependency 'b' is not met"]
    assert problems("d-1-0", "b-2-0") == ["d=1=0: its constraint 'b <2' is broken by b=2=0"]
    assert problems("d-1-0") == []  # a constraint on a package that is not there holds
    assert len(problems("b-1-0", "b-2-0")) == 1  # one record per name
    assert problems("b-1-0", requested=[rattler.MatchSpec("b>=2")]) == [
        "the requested b >=2 is not met"
    ]
    glibc = rattler.GenericVirtualPackage(
        rattler.PackageName("__glibc"), rattler.Version("2.35"), rattler.BuildString("0")
    )
    assert problems("f-1-0", virtual_packages=[glibc]) == []
    assert problems("f-1-0") == ["f=1=0: its dependency '__glibc >=2.17' is not met"]


@needs_libmamba
def test_flexible_priority_is_condas_with_libmamba(gateway, chans):
    # x (in one) needs b >=3, which only the lower channel two has. Strict: refused by both.
    channels = [chans["one"], chans["two"]]
    for solver in ("rattler", "libmamba"):
        with pytest.raises(Unsatisfiable):
            _solve(solver, gateway, channels, ["x"])
    # Flexible, as conda has it: libmamba reaches into two for what one cannot give; rattler has
    # no flexible priority and solves as strict.
    assert _solve("libmamba", gateway, channels, ["x"], priority="flexible") == {"x-1", "b-3"}
    with pytest.raises(Unsatisfiable):
        _solve("rattler", gateway, channels, ["x"], priority="flexible")
    assert _solve("libmamba", gateway, channels, ["b"], priority="flexible") == {"b-2"}
