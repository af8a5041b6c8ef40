"""eipfsck: audit and repair Kube-OVN IP address management."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The installed version, looked up on first use: importlib.metadata costs more than
    # every other import of `eipfsck --help` together, and only --version and reports need it.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("eipfsck")
    except PackageNotFoundError:  # running from a source tree without installation
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
