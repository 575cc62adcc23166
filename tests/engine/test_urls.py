"""One canonical form per place: what the allow list checks is what rattler fetches."""

from __future__ import annotations

import pytest

from jupyter_envmgr.engine.errors import ChannelError
from jupyter_envmgr.engine.urls import canonical_url, package_channel, url_is_under

ALLOWED = "https://conda.example.org/main"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://conda.example.org/main",
        "https://conda.example.org/main/",
        "HTTPS://Conda.Example.ORG/main",
        "https://conda.example.org:443/main",
        "https://conda.example.org./main",
        "https://conda.example.org/x/../main",
        "https://conda.example.org/./main/.",
        "https://conda.example.org/%6dain",
        "https://conda.example.org//main",
        "https://conda.example.org/x\\..\\main",
    ],
)
def test_spellings_of_one_channel_have_one_canonical_form(spelling):
    assert canonical_url(spelling) == ALLOWED


@pytest.mark.parametrize(
    "escape",
    [
        f"{ALLOWED}/../other",
        f"{ALLOWED}/./../other",
        f"{ALLOWED}/%2e%2e/other",
        f"{ALLOWED}/%2E%2E/other",
        f"{ALLOWED}/x/../../other",
        f"{ALLOWED}\\..\\other",
        f"{ALLOWED}-evil",
        "https://conda.example.org:8443/main",
        "http://conda.example.org/main",
        "https://evil.org/main",
    ],
)
def test_no_spelling_escapes_an_allowed_channel(escape):
    assert not url_is_under(canonical_url(escape), ALLOWED)


def test_subchannels_and_package_urls_stay_under_their_channel():
    assert url_is_under(f"{ALLOWED}/label/dev", ALLOWED)
    pkg = f"{ALLOWED}/noarch/x-1-0.conda"
    assert package_channel(pkg) == ALLOWED
    assert package_channel(f"{ALLOWED}/../other/noarch/x-1-0.conda") != ALLOWED


@pytest.mark.parametrize(
    "bad",
    [
        "http://[::1",
        "http://",
        "file://",
        "http://h:99999/x",
        "ftp://h/x",
        "https://user:pw@h/x",
        "https://h/x?token=1",
        "https://h/x#frag",
        "https://ｅｖｉｌ.org/x",
        "file://otherhost/x",
        "https://h/x\n",
    ],
)
def test_unusable_urls_are_channel_errors(bad):
    with pytest.raises(ChannelError):
        canonical_url(bad)
