"""`import swiftconv` refuses a libswiftconv whose version differs from the package's."""

import subprocess
import sys

import pytest

import swiftconv as sc
from swiftconv import _core
from swiftconv._version import require_library_version


def test_library_version_is_the_package_version():
    assert _core.version() == sc.__version__


def test_a_different_library_version_is_an_import_error():
    with pytest.raises(ImportError) as info:
        require_library_version("9.9.9")
    assert f"swiftconv {sc.__version__} found libswiftconv 9.9.9" in str(info.value)


def test_import_fails_when_the_package_and_library_versions_differ():
    # A fresh interpreter whose package claims another version than its library reports.
    script = """
import importlib.util, sys, types
spec = importlib.util.find_spec("swiftconv")
version = types.ModuleType("swiftconv._version")
source = open(spec.submodule_search_locations[0] + "/_version.py").read()
exec(source, version.__dict__)
version.__version__ = "0.0.1"
sys.modules["swiftconv._version"] = version
module = importlib.util.module_from_spec(spec)
sys.modules["swiftconv"] = module
try:
    spec.loader.exec_module(module)
except ImportError as error:
    print("ImportError:", error)
"""
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert f"swiftconv 0.0.1 found libswiftconv {sc.__version__}" in result.stdout, result.stderr
