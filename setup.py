"""Builds libswiftconv with SwiftPM, then the thin CPython extension swiftconv._core.

The Swift library is built with a static Swift runtime (-static-stdlib) so that the
wheel runs without a toolchain; it is copied next to the extension, which finds it
through RPATH=$ORIGIN. Environment:
  SWIFT                 the swift driver (default: `swift` on PATH, then /opt/swift/usr/bin/swift)
  SWIFTCONV_LIB_DIR     use a libswiftconv.so already built there instead of running SwiftPM
"""

import os
import shutil
import subprocess
import sys

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
LIBRARY = "libswiftconv.so"


def swift_driver():
    explicit = os.environ.get("SWIFT")
    if explicit:
        return explicit
    found = shutil.which("swift")
    if found:
        return found
    if os.path.exists("/opt/swift/usr/bin/swift"):
        return "/opt/swift/usr/bin/swift"
    sys.exit("swiftconv: the Swift toolchain was not found; set SWIFT=/path/to/swift")


def size_linker_flags(swift):
    """Linker flags that shrink the library without touching its code, when the toolchain has lld.

    lld with identical-code folding merges the many identical generic specializations; packed
    relative relocations (DT_RELR) store the relocation table in a fraction of its size but need
    glibc 2.36 where the library is loaded, so they are used only when this machine's glibc, the
    one the library is built for, is that new. docs/PERF.md ("Footprint") has the sizes.
    """
    bin_dir = os.path.dirname(os.path.realpath(swift))
    if not os.path.exists(os.path.join(bin_dir, "ld.lld")):
        return []
    flags = ["-Xswiftc", "-use-ld=lld", "-Xlinker", "--icf=all"]
    libc, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    if libc == "glibc" and tuple(int(p) for p in version.split(".")[:2]) >= (2, 36):
        flags += ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"]
    return flags


class BuildSwiftThenExtension(build_ext):
    """build_ext that first builds the Swift library and ships it inside the package."""

    def swift_library_dir(self):
        prebuilt = os.environ.get("SWIFTCONV_LIB_DIR")
        if prebuilt:
            return prebuilt
        swift = swift_driver()
        args = [
            swift,
            "build",
            "-c",
            "release",
            "-Xswiftc",
            "-static-stdlib",
            "--product",
            "swiftconv",
            "-Xlinker",
            f"-soname={LIBRARY}",
            "-Xlinker",
            "--strip-all",  # the dynamic symbol table (the C ABI) stays
            # Export the C ABI only, so --gc-sections (SwiftPM passes it) drops unreachable code.
            "-Xlinker",
            "--version-script=" + os.path.join(ROOT, "python", "csrc", "libswiftconv.map"),
            *size_linker_flags(swift),
            # Its own scratch path, so it never fights the debug build in .build.
            "--scratch-path",
            os.path.join(ROOT, ".build-release"),
        ]
        self.announce("running " + " ".join(args), level=2)
        subprocess.check_call(args, cwd=ROOT)
        return subprocess.check_output(args + ["--show-bin-path"], cwd=ROOT, text=True).strip()

    def run(self):
        lib_dir = self.swift_library_dir()
        for ext in self.extensions:
            ext.library_dirs.append(lib_dir)
        super().run()
        # The extension links with RPATH=$ORIGIN, so the library goes right beside it.
        source = os.path.join(lib_dir, LIBRARY)
        targets = {os.path.dirname(self.get_ext_fullpath("swiftconv._core"))}
        if self.inplace or getattr(self, "editable_mode", False):
            targets.add(os.path.join(ROOT, "python", "swiftconv"))
        for target in targets:
            os.makedirs(target, exist_ok=True)
            self.copy_file(source, os.path.join(target, LIBRARY))

    def get_outputs(self):
        outputs = super().get_outputs()
        return outputs + [os.path.join(os.path.dirname(self.get_ext_fullpath("swiftconv._core")), LIBRARY)]


setup(
    ext_modules=[
        Extension(
            "swiftconv._core",
            sources=["python/csrc/_core.c"],
            include_dirs=[os.path.join("Sources", "CSwiftConv", "include"), numpy.get_include()],
            libraries=["swiftconv"],
            extra_compile_args=["-std=c11", "-Wall", "-Wno-missing-field-initializers"],
            extra_link_args=["-Wl,-rpath,$ORIGIN"],
        )
    ],
    cmdclass={"build_ext": BuildSwiftThenExtension},
)
