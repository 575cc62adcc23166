"""What the REST reads of an env answer does not depend on records being read without their
file lists: the same package list and export texts as from whole records."""

from __future__ import annotations

from jupyter_envmgr.engine.export import EXPORT_FORMATS
from jupyter_envmgr.engine.prefix import read_records, record_json

from ..engine.test_file_lists import ONE_LINE, create_env_with_pip_package, rewrite_records


async def _reads(api) -> dict[str, object]:
    _, packages = await api.call("GET", "environments", "reads", "packages")
    _, revisions = await api.call("GET", "environments", "reads", "revisions")
    answers: dict[str, object] = {"packages": packages, "revisions": revisions}
    for fmt in EXPORT_FORMATS:
        _, text = await api.call("GET", "environments", "reads", "export", params={"format": fmt})
        answers[fmt] = text
    return answers


async def test_package_list_and_exports_are_those_of_the_whole_records(api, sandbox, channels):
    prefix = create_env_with_pip_package(sandbox, channels.main_url, "reads")
    cut = await _reads(api)  # the records as rattler wrote them: big ones are cut
    whole = sorted(read_records(prefix), key=lambda r: r.name.normalized)
    alias = "https://conda.anaconda.org"
    keys = ("name", "version", "build", "size")  # beside the insight the list carries
    listed = [{k: p[k] for k in keys} for p in cut["packages"]["packages"]]  # type: ignore[index]
    assert listed == [{k: record_json(r, alias)[k] for k in keys} for r in whole]
    assert "- pip:\n  - tinywheel==0.1\n" in str(cut["yml"])

    rewrite_records(prefix, **ONE_LINE)  # records on one line are read whole
    assert await _reads(api) == cut
