"""Builds the extension softreg._core with the project's CMake (the library is linked in
statically) and packages it with python/softreg. Metadata lives in pyproject.toml."""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    """Configures a Release build of the module only (no tests, examples or CLI) for the
    interpreter running this build, then copies the module where setuptools expects it."""

    def build_extension(self, ext):
        build_dir = Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DSOFTREG_BUILD_PYTHON=ON",
            "-DSOFTREG_BUILD_TESTS=OFF",
            "-DSOFTREG_BUILD_EXAMPLES=OFF",
            "-DSOFTREG_BUILD_CLI=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        try:  # pybind11's CMake files, wherever this interpreter's pybind11 keeps them
            import pybind11

            configure.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "softreg_python",
                        "-j", jobs], check=True)
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build_dir / "python" / "softreg" / f"_core{suffix}"
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    ext_modules=[Extension("softreg._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    # Keep setuptools' scratch space out of build/, which is the CMake build of `make build`.
    options={"build": {"build_base": "build-pip"}},
)
