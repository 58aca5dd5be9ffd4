"""ART/c/ as the library an embedded engineer builds: CMake for the host and, with an
arm-none-eabi toolchain file, for the M7 under QEMU; two models exported with different
--name linked into one firmware, both checked against onnxruntime; the Makefile fragment,
the Zephyr module's CMake (against stand-in zephyr_* functions) and example/main.c."""
import hashlib
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeformer.runtime.boards import load_board
from edgeformer.runtime.cross import FIRMWARE_DIR, linker_script
from edgeformer.runtime import verify
from edgeformer.runtime.verify import compare, load_meta
from edgeformer.targets.cores import target
from tests.conftest import ROOT, run_json

N = 16
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake missing (scripts/system-deps.sh)")

MAIN_C = r"""/* Two edgeformer models in one program: in = u32 n, then per sample A's input, B's input;
 * out = per sample A's output, B's output. Host: stdin/stdout; Cortex-M: in.bin/out.bin over
 * semihosting. */
#include <stdint.h>
#include <string.h>

#include "digits.h"     /* each model by its own header: both c/ folders are on the path */
#include "digits_q.h"

#ifdef __arm__
#include "semihost.h"
static int fin, fout;
static int io_open(void) { fin = sh_open("in.bin", SH_MODE_RB); fout = sh_open("out.bin", SH_MODE_WB); return fin >= 0 && fout >= 0; }
static int io_read(void *p, uint32_t n) { return sh_read(fin, p, n) == 0; }
static void io_write(const void *p, uint32_t n) { sh_write(fout, p, n); }
static void io_close(void) { sh_close(fin); sh_close(fout); }
#else
#include <stdio.h>
static int io_open(void) { return 1; }
static int io_read(void *p, uint32_t n) { return fread(p, 1, n, stdin) == n; }
static void io_write(const void *p, uint32_t n) { fwrite(p, 1, n, stdout); }
static void io_close(void) { fflush(stdout); }
#endif

static uint8_t a_in[DIGITS_INPUT0_BYTES] __attribute__((aligned(16)));
static uint8_t a_out[DIGITS_OUTPUT0_BYTES] __attribute__((aligned(16)));
static uint8_t b_in[DIGITS_Q_INPUT0_BYTES] __attribute__((aligned(16)));
static uint8_t b_out[DIGITS_Q_OUTPUT0_BYTES] __attribute__((aligned(16)));

int main(void)
{
    const void *ai[] = {a_in}, *bi[] = {b_in};
    void *ao[] = {a_out}, *bo[] = {b_out};
    uint32_t n, s;
    if (!io_open() || !io_read(&n, 4)) return 2;
    if (digits_init() != 0 || digits_q_init() != 0) return 1;
    for (s = 0; s < n; ++s) {
        if (!io_read(a_in, sizeof a_in) || !io_read(b_in, sizeof b_in)) return 2;
        if (digits_run(ai, ao) != 0 || digits_q_run(bi, bo) != 0) return 1;
        io_write(a_out, sizeof a_out);
        io_write(b_out, sizeof b_out);
    }
    io_close();
    return 0;
}
"""

TOP_CMAKE = """cmake_minimum_required(VERSION 3.13)
project(two_models C)
add_subdirectory({a} digits)
add_subdirectory({b} digits_q)
target_compile_definitions(digits_q PRIVATE
    [=[DIGITS_Q_ARENA_SECTION=__attribute__((section(".bss.dtcm_test")))]=])
add_executable(fw main.c)
target_link_libraries(fw PRIVATE digits digits_q)
if(CMAKE_CROSSCOMPILING)
  target_sources(fw PRIVATE {startup} {fw_dir}/semihost.c)
  target_include_directories(fw PRIVATE {fw_dir})
  target_link_options(fw PRIVATE --specs=nano.specs --specs=nosys.specs -T{ld} -Wl,-Map=fw.map)
  # example/main.c on the M7: printf over semihosting (newlib's rdimon)
  add_executable(example {a}/example/main.c {startup} {fw_dir}/semihost.c)
  target_compile_definitions(example PRIVATE EF_EXAMPLE_SEMIHOSTING)
  target_include_directories(example PRIVATE {fw_dir})
  target_link_libraries(example PRIVATE digits)
  target_link_options(example PRIVATE --specs=nano.specs --specs=rdimon.specs -u _printf_float
                      -Wl,--defsym=end=_ebss -T{ld})
endif()
"""


def _pattern(shape) -> np.ndarray:
    """example/main.c's input: input0[k] = ((k % 17) - 8) / 8."""
    return (((np.arange(int(np.prod(shape))) % 17) - 8) / 8).astype(np.float32).reshape(shape)


def _toolchain(path: Path) -> Path:
    flags = " ".join(target("cortex-m7").cflags)
    path.write_text(f"""set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "{flags}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--gc-sections -nostartfiles")
""")
    return path


def _cmake(src: Path, build: Path, *args) -> None:
    for cmd in (["cmake", "-S", src, "-B", build, *args], ["cmake", "--build", build, "-j", "2"]):
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{' '.join(map(str, cmd))}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def _export(tmp_path_factory, label, *args) -> Path:
    art = tmp_path_factory.mktemp(label) / "art"
    run_json("export", *args, "--out", art)
    return art


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    return {"digits": _export(tmp_path_factory, "digits", "--model", "vit-digits", "--quantize", "float32",
                              "--name", "digits"),
            "digits_q": _export(tmp_path_factory, "digits_q", "--model", "vit-digits", "--quantize", "int8",
                                "--name", "digits_q")}


@pytest.fixture(scope="module")
def plain_streaming(tmp_path_factory):
    """lmuformer-tiny without --name: today's ef_model / EF_ names, and a streaming state."""
    return _export(tmp_path_factory, "kws", "--model", "lmuformer-tiny", "--quantize", "float32")


@pytest.fixture(scope="module")
def samples(arts):
    """N real test inputs per model, and in.bin for the two-model program."""
    xs = {k: verify.sample_inputs(load_meta(a), a, N)[0].astype(np.float32) for k, a in arts.items()}
    body = b"".join(xs["digits"][i].tobytes() + xs["digits_q"][i].tobytes() for i in range(N))
    return xs, struct.pack("<I", N) + body


def _check_both(arts, xs, raw: bytes) -> None:
    """Split the program's outputs and judge each model with verify's own comparison."""
    per = {"digits": 10 * 4, "digits_q": 10 * 4}
    assert len(raw) == N * sum(per.values())
    flat = np.frombuffer(raw, np.uint8).reshape(N, -1)
    outs = {"digits": flat[:, :40].copy().view(np.float32), "digits_q": flat[:, 40:].copy().view(np.float32)}
    for k, art in arts.items():
        def runner(inputs, k=k):
            assert np.array_equal(np.asarray(inputs[0], np.float32).reshape(xs[k].shape), xs[k])
            return [outs[k].reshape(N, 1, 10)]
        res = compare(load_meta(art), art, runner, N)
        assert res["passed"] and res["top1_agreement"] == 1.0, (k, res)


def _project(tmp: Path, arts) -> Path:
    src = tmp / "src"
    src.mkdir()
    (src / "main.c").write_text(MAIN_C)
    ld = tmp / "link.ld"
    ld.write_text(linker_script(load_board("mps2-an500"), "sim"))
    (src / "CMakeLists.txt").write_text(TOP_CMAKE.format(
        a=arts["digits"] / "c", b=arts["digits_q"] / "c", fw_dir=FIRMWARE_DIR,
        startup=ROOT / "boards" / "startup_cortex_m.c", ld=ld))
    return src


def test_named_api_and_provenance(arts):
    c = arts["digits_q"] / "c"
    h = (c / "model.h").read_text()
    for want in ("#ifndef DIGITS_Q_MODEL_H", "int digits_q_init(void);",
                 "int digits_q_run(const void *const *inputs, void *const *outputs);",
                 "#define DIGITS_Q_ARENA_BYTES", "#define DIGITS_Q_INPUT0_BYTES 256", "#define DIGITS_Q_OUTPUT0_BYTES 40",
                 "#ifndef DIGITS_Q_ARENA_SECTION", "Do not edit", "edgeformer 0.1.0"):
        assert want in h, want
    assert "EF_" not in h and "ef_model" not in h
    sha = hashlib.sha256((arts["digits_q"] / "model.int8.onnx").read_bytes()).hexdigest()
    assert sha in h and ".tmp" not in h and "/tmp" not in h
    assert re.search(r"\bdigits_q_w\d+\b", (c / "weights.h").read_text())
    for f in ("CMakeLists.txt", "model.mk", "README.md", "example/main.c", "zephyr/module.yml",
              "zephyr/CMakeLists.txt", "zephyr/Kconfig", "digits_q.h"):
        assert (c / f).is_file(), f
    assert "add_library(digits_q STATIC" in (c / "CMakeLists.txt").read_text()
    readme = (c / "README.md").read_text()
    assert "digits_q_run" in readme and "DWT_CYCCNT" in readme and "DIGITS_Q_ARENA_SECTION" in readme


def test_two_named_models_link_and_run_on_the_host_with_cmake(arts, samples, tmp_path):
    xs, data = samples
    build = tmp_path / "build"
    _cmake(_project(tmp_path, arts), build)
    assert (build / "digits" / "libdigits.a").is_file() and (build / "digits_q" / "libdigits_q.a").is_file()
    assert (build / "digits" / "libedgeformer_kernels.a").is_file()            # once, from the first model
    assert not (build / "digits_q" / "libedgeformer_kernels.a").exists()
    nm = subprocess.run(["nm", "-g", "--defined-only", build / "digits_q" / "libdigits_q.a"], capture_output=True,
                        text=True, check=True).stdout
    syms = [ln.split()[-1] for ln in nm.splitlines() if re.match(r"^[0-9a-f]+ [A-Z] ", ln)]
    assert syms and all(s.startswith("digits_q_") for s in syms), syms
    r = subprocess.run([build / "fw"], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    _check_both(arts, xs, r.stdout)


def test_two_named_models_and_the_example_on_the_m7_under_qemu(arts, samples, tmp_path):
    from edgeformer.runtime.qemu import run_qemu
    xs, data = samples
    build = tmp_path / "build"
    _cmake(_project(tmp_path, arts), build, f"-DCMAKE_TOOLCHAIN_FILE={_toolchain(tmp_path / 'm7.cmake')}")
    _check_both(arts, xs, run_qemu(build / "fw", "mps2-an500", data, timeout=120).out)
    # DIGITS_Q_ARENA_SECTION placed that model's arena; the other stayed in .bss.ef_arena
    arena = load_meta(arts["digits_q"])["arena_bytes"]
    mapfile = (build / "fw.map").read_text()
    assert re.search(r"\.bss\.dtcm_test\s+0x[0-9a-f]+\s+" + hex(arena), mapfile), "arena section not honoured"
    # example/main.c: zero input, outputs printed over semihosting
    said = run_qemu(build / "example", "mps2-an500", b"", timeout=60).console
    got = np.array([float(v) for v in re.search(r"output0 logits:([^\n]*)", said).group(1).split()], np.float32)
    from edgeformer.export.onnx_check import session
    art = arts["digits"]
    sess = session(str(art / "model.onnx"))
    want = sess.run(None, {sess.get_inputs()[0].name: _pattern((1, 1, 8, 8))})[0].reshape(-1)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_makefile_fragment_links_two_models(arts, samples, tmp_path):
    xs, data = samples
    src = _project(tmp_path, arts)
    (tmp_path / "Makefile").write_text(
        f"CFLAGS := -std=c99 -O2 -Wall -Wextra\n"
        f"include {arts['digits'] / 'c' / 'model.mk'}\ninclude {arts['digits_q'] / 'c' / 'model.mk'}\n"
        f"app: {src / 'main.c'} $(DIGITS_OBJS) $(DIGITS_Q_OBJS) $(EF_KERNEL_OBJS)\n"
        "\t$(CC) $(CFLAGS) $(DIGITS_CFLAGS) $(DIGITS_Q_CFLAGS) $^ -o $@ -lm\n")
    r = subprocess.run(["make", "-j2", "app"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "build/digits/model.o").is_file() and (tmp_path / "build/digits_q/model.o").is_file()
    r = subprocess.run([tmp_path / "app"], input=data, capture_output=True, timeout=60)
    assert r.returncode == 0
    _check_both(arts, xs, r.stdout)


def test_zephyr_module_builds_against_stand_in_functions(arts, tmp_path):
    """zephyr/CMakeLists.txt with zephyr_library_* defined as plain CMake: both modules add
    their sources, the kernels come once, and an app links."""
    (tmp_path / "main.c").write_text('#include "digits.h"\n#include "digits_q.h"\n'
                                     "int main(void) { return digits_init() + digits_q_init(); }\n")
    mods = "\n".join(f"add_subdirectory({arts[k] / 'c' / 'zephyr'} zephyr_{k})" for k in ("digits", "digits_q"))
    (tmp_path / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.13)
project(zephyr_stand_in C)
set(CONFIG_EDGEFORMER_DIGITS y)
set(CONFIG_EDGEFORMER_DIGITS_Q y)
macro(zephyr_library_named n)
  add_library(${{n}} STATIC)
  set(ZEPHYR_CURRENT_LIBRARY ${{n}})
  set_property(GLOBAL APPEND PROPERTY ZEPHYR_LIBS ${{n}})
endmacro()
function(zephyr_library_sources)
  target_sources(${{ZEPHYR_CURRENT_LIBRARY}} PRIVATE ${{ARGN}})
endfunction()
function(zephyr_include_directories)
  set_property(GLOBAL APPEND PROPERTY ZEPHYR_INCS ${{ARGN}})
endfunction()
{mods}
get_property(libs GLOBAL PROPERTY ZEPHYR_LIBS)
get_property(incs GLOBAL PROPERTY ZEPHYR_INCS)
add_executable(app main.c)
target_include_directories(app PRIVATE ${{incs}})
target_link_libraries(app PRIVATE -Wl,--whole-archive ${{libs}} -Wl,--no-whole-archive m)  # as Zephyr links
""")
    _cmake(tmp_path, tmp_path / "build")
    assert subprocess.run([tmp_path / "build" / "app"]).returncode == 0
    module = (arts["digits"] / "c" / "zephyr" / "module.yml").read_text()
    assert "name: digits" in module and "cmake: zephyr" in module


def test_default_names_cmake_target_and_streaming_example(plain_streaming, tmp_path):
    c = plain_streaming / "c"
    h = (c / "model.h").read_text()
    for want in ("#ifndef EF_MODEL_H", "int ef_model_init(void);", "#define EF_ARENA_BYTES",
                 "void ef_model_reset(void *const *inputs);", "#define EF_NUM_STATES"):
        assert want in h, want
    _cmake(c, tmp_path / "build")
    assert (tmp_path / "build" / "libef_model.a").is_file()
    r = subprocess.run([tmp_path / "build" / "ef_model_example"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = np.array([float(v) for v in re.search(r"output0 logits:([^\n]*)", r.stdout).group(1).split()], np.float32)
    # onnxruntime over the example's sequence: the pattern every step, from a zero state
    from edgeformer.export.emit.clib_docs import EXAMPLE_STEPS
    from edgeformer.export.onnx_check import session
    sess = session(str(plain_streaming / "model.onnx"))
    ins = sess.get_inputs()
    feed = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32) for i in ins}
    feed[ins[0].name] = _pattern(feed[ins[0].name].shape)
    for _ in range(EXAMPLE_STEPS):
        res = sess.run(None, feed)
        feed.update({i.name: r for i, r in zip(ins[1:], res[1:])})
    np.testing.assert_allclose(got, res[0].reshape(-1), atol=1e-4)
