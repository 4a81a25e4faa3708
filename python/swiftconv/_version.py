__version__ = "0.1.0"


def require_library_version(library_version):
    """Raises ImportError unless the loaded libswiftconv is the version this package was built for.

    The extension and the Python code are shipped together; a stale libswiftconv.so beside
    them would otherwise fail later in confusing ways.
    """
    if library_version != __version__:
        raise ImportError(
            f"swiftconv {__version__} found libswiftconv {library_version}; "
            "reinstall swiftconv so the package and its library match"
        )
