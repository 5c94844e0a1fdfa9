"""The C++ library builds and installs on its own with CMake (no Python), and a native app finds
it with find_package(fastconv), or with pkg-config, and runs."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None,
                                reason="needs cmake and a C++ compiler")


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """The library configured, built and installed to a fresh prefix."""
    base = tmp_path_factory.mktemp("cpp")
    build, prefix = base / "build", base / "prefix"
    subprocess.run(["cmake", "-S", ROOT, "-B", str(build), "-DFASTCONV_BUILD_PYTHON=OFF",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)], check=True, capture_output=True)
    return prefix


def _check_run(exe, env=None):
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "765" in run.stdout and "OK" in run.stdout and "stride_h=0" in run.stdout


def test_installed_package_layout(prefix):
    libdir = next(p for p in (prefix / "lib", prefix / "lib64") if p.exists())
    for name in ("cmake/fastconv/fastconvConfig.cmake", "cmake/fastconv/fastconvConfigVersion.cmake",
                 "cmake/fastconv/fastconvTargets.cmake", "pkgconfig/fastconv.pc", "libfastconv.a", "libfastconv.so"):
        assert (libdir / name).exists(), name
    for header in ("fastconv.hpp", "fastconv.h", "plan.hpp", "descriptor.hpp", "errors.hpp", "cpu.hpp", "version.hpp"):
        assert (prefix / "include" / "fastconv" / header).exists(), header
    assert "find_dependency(OpenMP" in (libdir / "cmake/fastconv/fastconvConfig.cmake").read_text()


def test_example_app_with_find_package(prefix, tmp_path):
    build = tmp_path / "edge"
    subprocess.run(["cmake", "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build),
                    f"-DCMAKE_PREFIX_PATH={prefix}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    _check_run(build / "fastconv_edge")


def test_example_app_against_the_pip_installed_wheel(tmp_path):
    """The wheel carries the C++ package inside the Python package, and names it as its cmake.root
    entry point: find_package(fastconv) works after `pip install fastconv` alone."""
    import importlib.metadata

    import fastconv

    root = os.path.dirname(fastconv.__file__)
    roots = [e.value for e in importlib.metadata.entry_points(group="cmake.root") if e.name == "fastconv"]
    assert roots == ["fastconv"]
    assert os.path.exists(os.path.join(root, "include", "fastconv", "fastconv.h"))
    build = tmp_path / "edge"
    subprocess.run(["cmake", "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build),
                    f"-DCMAKE_PREFIX_PATH={root}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    _check_run(build / "fastconv_edge")


@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="needs pkg-config")
def test_example_app_with_pkg_config(prefix, tmp_path):
    libdir = next(p for p in (prefix / "lib", prefix / "lib64") if p.exists())
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fastconv"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path / "edge"
    subprocess.run(["c++", os.path.join(ROOT, "examples", "cpp", "edge.cpp"), "-o", str(exe), *flags],
                   check=True, capture_output=True)
    _check_run(exe, env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))


@pytest.fixture(scope="module")
def build_dir(prefix):
    return prefix.parent / "build"


@pytest.mark.skipif(shutil.which("objdump") is None or os.uname().machine != "x86_64", reason="needs objdump on x86-64")
def test_baseline_objects_hold_no_avx_instructions(build_dir):
    """Only the per-ISA kernel files are built with ISA flags: every other object must run on
    any x86-64, so none may touch a ymm or zmm register. The AVX2 kernel objects must touch ymm
    registers, and the AVX-512 ones zmm registers (else this check could not fail)."""
    objects = [os.path.join(d, f) for d, _, files in os.walk(build_dir / "CMakeFiles") for f in files
               if f.endswith(".o") and "fastconv_objects.dir" in d]
    kernels = {isa: [o for o in objects if f"{os.sep}{isa}{os.sep}" in o] for isa in ("avx2", "avx512")}
    baseline = [o for o in objects if not any(o in group for group in kernels.values())]
    assert len(baseline) >= 10 and kernels["avx2"] and kernels["avx512"]

    def disassembly(obj):
        return subprocess.run(["objdump", "-d", obj], check=True, capture_output=True, text=True).stdout

    for obj in baseline:
        text = disassembly(obj)
        assert "%ymm" not in text and "%zmm" not in text, obj
    for isa, register in (("avx2", "%ymm"), ("avx512", "%zmm")):
        for obj in kernels[isa]:
            assert register in disassembly(obj), obj


def _c_program(prefix, folder, name, *flags):
    """tests/c/<name>.c compiled as C (not C++) into folder, linked to the installed shared
    library; the program and the environment that finds the library."""
    libdir = next(p for p in (prefix / "lib", prefix / "lib64") if p.exists())
    exe = folder / name
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", *flags, "-x", "c", os.path.join(ROOT, "tests", "c", f"{name}.c"),
                    f"-I{prefix / 'include'}", f"-L{libdir}", "-lfastconv", "-lm", "-o", str(exe)], check=True)
    return exe, dict(os.environ, LD_LIBRARY_PATH=str(libdir))


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_c_api_from_c(prefix, tmp_path):
    """The C API, compiled as C (not C++) and linked to the installed shared library."""
    exe, env = _c_program(prefix, tmp_path, "test_c_api")
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env)
    print(run.stdout)
    assert run.returncode == 0 and "OK" in run.stdout, run.stdout + run.stderr


@pytest.fixture(scope="module")
def stress_exe(prefix, tmp_path_factory):
    """tests/c/stress_c_api.c, compiled as C with OpenMP, linked to the installed library."""
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    return _c_program(prefix, tmp_path_factory.mktemp("stress"), "stress_c_api", "-fopenmp")


def test_calls_from_inside_an_openmp_team(stress_exe):
    """Every thread of the caller's OpenMP team runs its own plans at once (nested parallel
    regions); results equal the serial ones bit for bit, and nothing deadlocks."""
    exe, env = stress_exe
    run = subprocess.run([str(exe), "200"], capture_output=True, text=True, env=env, timeout=120)
    print(run.stdout)
    assert run.returncode == 0 and "team of 4: 0 failures" in run.stdout, run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")
def test_no_leaks_over_12000_calls(stress_exe):
    """valgrind's memcheck over 1000 iterations of 3 plans x 4 calls: no definite leak, no invalid
    access. One OpenMP thread, as valgrind runs threads one at a time anyway; the thread pool's
    own per-thread blocks are 'possibly lost', which is OpenMP's and not counted."""
    exe, env = stress_exe
    env = dict(env, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    run = subprocess.run(["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
                          "--show-possibly-lost=no", "--error-exitcode=2", str(exe), "1000"],
                         capture_output=True, text=True, env=env, timeout=600)
    print(run.stdout, run.stderr)
    assert run.returncode == 0 and "1000 iterations x 3 shapes: 0 failures" in run.stdout, run.stderr


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("isa", ["avx512", "avx2", "generic"])
def test_c_sweep_against_the_reference(prefix, tmp_path, isa):
    """tests/c/sweep_c_api.c: a seeded random sweep of every algorithm, direction and dtype
    against the reference, through the C API, on each kernel path (capped by FASTCONV_MAX_ISA;
    on a CPU without the named one, the best it has). CI also runs it on aarch64."""
    import sweep

    exe, env = _c_program(prefix, tmp_path, "sweep_c_api")
    env["FASTCONV_MAX_ISA"] = isa
    run = subprocess.run([str(exe), "500", str(sweep.seed())], capture_output=True, text=True, env=env, timeout=300)
    print(run.stdout)
    assert run.returncode == 0 and "; 0 failures" in run.stdout, run.stdout[-4000:] + run.stderr
