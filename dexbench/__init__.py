"""dexbench: datasets, metrics and leaderboards for disentangled portrait animation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dexbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
