"""An independent check of a solved package set: does it hold together on its own?

It trusts neither backend: with rattler's MatchSpec matching only, every record's `depends` must
be met by a record of the set or a virtual package, every `constrains` must hold for the
constrained package when it is there, one record per package name, and every requested spec
must be met. It says nothing about whether the set is the best one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import rattler

from .dependencies import match_spec_name
from .solver_interface import VirtualPackage


def _virtual_record(package: VirtualPackage) -> rattler.PackageRecord:
    generic = package.into_generic() if isinstance(package, rattler.VirtualPackage) else package
    return rattler.PackageRecord(
        name=generic.name,
        version=str(generic.version),
        build=generic.build_string,
        build_number=0,
        subdir="noarch",
    )


def solution_problems(
    records: Sequence[rattler.RepoDataRecord],
    *,
    requested: Iterable[rattler.MatchSpec] = (),
    virtual_packages: Iterable[VirtualPackage] = (),
) -> list[str]:
    """What is wrong with `records` as one environment: [] when nothing is."""
    problems: list[str] = []
    by_name: dict[str, rattler.PackageRecord] = {}
    for record in records:
        name = record.name.normalized
        if name in by_name:
            problems.append(f"two records of {name}: {by_name[name]} and {record}")
        by_name[name] = record
    for package in virtual_packages:
        virtual = _virtual_record(package)
        by_name.setdefault(virtual.name.normalized, virtual)

    def met(spec: rattler.MatchSpec) -> bool:
        present = by_name.get(match_spec_name(spec))
        return present is not None and spec.matches(present)

    for spec in requested:
        if not met(spec):
            problems.append(f"the requested {spec} is not met")
    for record in records:
        for dep in record.depends:
            if not met(rattler.MatchSpec(dep)):
                problems.append(f"{record}: its dependency {dep!r} is not met")
        for constraint in record.constrains:
            spec = rattler.MatchSpec(constraint)
            present = by_name.get(match_spec_name(spec))
            if present is not None and not spec.matches(present):
                problems.append(f"{record}: its constraint {constraint!r} is broken by {present}")
    return problems
