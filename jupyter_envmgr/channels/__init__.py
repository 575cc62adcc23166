"""Real conda test channels built offline from the running interpreter and environment.

``build_test_channels()`` returns two local channels ("main" and "extra") holding a relocatable
``python``, the runtime closures of ipykernel and ipywidgets converted from installed
distributions, and small synthetic packages; ``serve_channel()`` serves one over HTTP,
optionally slowly or faultily.
"""

from .factory import TestChannels, build_test_channels, default_cache_dir, index_channel
from .serve import serve_channel
from .wheels import distribution_closure, package_installed_distribution

__all__ = [
    "TestChannels",
    "build_test_channels",
    "default_cache_dir",
    "distribution_closure",
    "index_channel",
    "package_installed_distribution",
    "serve_channel",
]
