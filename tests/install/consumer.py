#!/usr/bin/python3
"""install_consumers: dnn installed into a temporary prefix is usable from
other projects, through CMake and through pkg-config.

  - `cmake --install BUILD --prefix S` lays out bin/, share/man/man1/,
    include/dnn/, lib/libdnn.a, lib/cmake/dnn/ and lib/pkgconfig/dnn.pc;
    S is then renamed P (the package is relocatable) and only P is used;
  - the installed set is the public API only: include/dnn/ holds exactly
    dnn.h and common.h, neither includes <mpi.h> or <hdf5.h>, and libdnn.a
    defines dnn_net_load/dnn_net_predict but no program code (dnn_train_main,
    nor any symbol of the sweep, the option parser, the trainer, the
    reports; none calls MPI);
  - the README's C program (classify.c), CMakeLists.txt and Makefile -- the
    very blocks of its section "Using a trained model from C, Python and
    ONNX runtimes" -- are copied into two separate projects, built against
    P with find_package(dnn) and with `pkg-config --cflags --libs dnn`
    (-Wall -Wextra -Werror), and neither binary refers to any MPI_ symbol
    (the inference path calls no MPI) nor is run under an MPI launcher;
  - the installed dnn-train trains checkpoints (float32 sigmoid with
    --scale, float64 softmax with --standardize, float32 linear with
    leaky_relu and two outputs); both programs print, for raw inputs given
    as text, the probabilities that the installed dnn-predict writes,
    within 1e-6 (float32) and 1e-12 (float64); so does the README's Python
    snippet (numpy + h5py).
"""
import os

import numpy as np

import itest
from itest import require

R = itest.Runner(__doc__)
HEADING = "Using a trained model from C, Python and ONNX runtimes"
PREFIX = R.path("prefix")
BIN = os.path.join(PREFIX, "bin")
state = {}


def install():
    # installed elsewhere, then moved: the package must not remember where it was put
    staging = R.path("staging")
    out = R.run(["cmake", "--install", R.args.build, "--prefix", staging], what="cmake --install")
    os.rename(staging, PREFIX)
    need = ["bin/dnn-train", "bin/dnn-predict", "bin/dnn-planar", "bin/dnn-fashion-mnist",
            "share/man/man1/dnn-train.1", "share/man/man1/dnn-predict.1", "include/dnn/dnn.h",
            "include/dnn/common.h", "lib/libdnn.a", "lib/cmake/dnn/dnnConfig.cmake",
            "lib/cmake/dnn/dnnConfigVersion.cmake", "lib/cmake/dnn/dnnTargets.cmake", "lib/pkgconfig/dnn.pc"]
    for prog in ("dnn-export", "dnn-sweep"):  # installed whenever the build made them
        if os.path.exists(os.path.join(R.args.build, prog)):
            need += ["bin/" + prog, "share/man/man1/%s.1" % prog]
    missing = [n for n in need if not os.path.exists(os.path.join(PREFIX, n))]
    require(not missing, "not installed: %s\n  %s" % (", ".join(missing), itest.tail(out)))
    for n in need:
        if n.startswith("bin/"):
            require(os.access(os.path.join(PREFIX, n), os.X_OK), n + " is not executable")


def consumer_env():
    """No MPI launcher around the consumers, no build-tree paths."""
    env = {k: v for k, v in R.env.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "PKG_CONFIG"))}
    env["PKG_CONFIG_PATH"] = os.path.join(PREFIX, "lib", "pkgconfig")
    return env


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def no_mpi_symbols(binary):
    syms = R.run(["nm", "-u", binary], what="nm")
    mpi = sorted({l.split()[-1] for l in syms.splitlines() if l.split() and l.split()[-1].startswith(("MPI_", "PMPI_"))})
    require(not mpi, "%s refers to MPI functions %s: the inference path must not call MPI" % (binary, mpi[:5]))


def build_cmake():
    src = R.path("cmake_consumer")
    write(os.path.join(src, "classify.c"), itest.readme_block(R.args.source, HEADING, "c"))
    write(os.path.join(src, "CMakeLists.txt"), itest.readme_block(R.args.source, HEADING, "cmake"))
    env = consumer_env()
    R.run(["cmake", "-S", src, "-B", os.path.join(src, "build"), "-DCMAKE_PREFIX_PATH=" + PREFIX,
           "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"], env=env,
          what="cmake (find_package(dnn) consumer)")
    R.run(["cmake", "--build", os.path.join(src, "build")], env=env, what="cmake --build (consumer)")
    exe = os.path.join(src, "build", "classify")
    require(os.access(exe, os.X_OK), "the CMake consumer built no classify")
    no_mpi_symbols(exe)
    state["cmake"] = exe


def build_make():
    src = R.path("make_consumer")
    write(os.path.join(src, "classify.c"), itest.readme_block(R.args.source, HEADING, "c"))
    write(os.path.join(src, "Makefile"), itest.readme_block(R.args.source, HEADING, "make"))
    env = consumer_env()
    flags = R.run(["pkg-config", "--cflags", "--libs", "dnn"], env=env, what="pkg-config --cflags --libs dnn")
    require("-ldnn" in flags and os.path.join(PREFIX, "lib", "pkgconfig", "..", "..", "include") in flags,
            "pkg-config --cflags --libs dnn gives %r" % flags.strip())
    env["CFLAGS"] = "-Wextra -Werror"
    R.run(["make", "-C", src, "classify"], env=env, what="make classify (pkg-config consumer)")
    exe = os.path.join(src, "classify")
    require(os.access(exe, os.X_OK), "the Makefile consumer built no classify")
    no_mpi_symbols(exe)
    state["make"] = exe


MODELS = [
    # name, data maker, training options, tolerance
    ("single_sigmoid_scale", lambda p: itest.images(p, 300, 1),
     ["--scale", "0.00392156862745098", "--layers", "8,4", "--lr", "0.5", "--iterations", "60"], 1e-6),
    ("double_softmax_standardize", lambda p: itest.blobs(p, 300, 5, 3, 2),
     ["--standardize", "--output", "softmax", "--layers", "7", "--hidden-activation", "tanh",
      "--precision", "double", "--lr", "0.3", "--iterations", "60"], 1e-12),
    ("single_linear_leaky", lambda p: itest.regression(p, 300, 4, 2, 3),
     ["--output", "linear", "--layers", "6", "--hidden-activation", "leaky_relu", "--leaky-slope", "0.1",
      "--lr", "0.05", "--iterations", "60"], 1e-6),
]


def model_case(name, make, args, tol):
    require("cmake" in state and "make" in state, "the consumers were not built")
    data, ck = R.path(name + ".h5"), R.path(name + ".ckpt.h5")
    X = make(data)
    R.run([os.path.join(BIN, "dnn-train"), "--data", data, "--x", "x", "--y", "y", "--checkpoint", ck,
           "--quiet"] + args, what="installed dnn-train")
    ref = itest.predict_csv(R, os.path.join(BIN, "dnn-predict"), ck, data, R.path(name + ".csv"))
    Xtext = "\n".join(" ".join("%.17g" % v for v in row) for row in X.reshape(len(X), -1).astype(np.float64))
    report = []
    for kind in ("cmake", "make"):
        out = R.run([state[kind], ck], env=consumer_env(), stdin=Xtext + "\n", what="classify (%s)" % kind)
        P = np.array([[float(v) for v in l.split()] for l in out.splitlines() if l.strip()])
        require(P.shape == ref.shape, "%s consumer printed shape %s, dnn-predict %s" % (kind, P.shape, ref.shape))
        d = float(np.max(np.abs(P - ref)))
        require(d <= tol, "%s consumer differs from dnn-predict by %.3g > %.0e" % (kind, d, tol))
        report.append("%s %.3g" % (kind, d))
    ns = {}
    exec(compile(itest.readme_block(R.args.source, HEADING, "python"), "README.md (python)", "exec"), ns)
    P = ns["predict"](ck, X)
    d = float(np.max(np.abs(P - ref)))
    require(d <= tol, "README python snippet differs from dnn-predict by %.3g > %.0e" % (d, tol))
    report.append("python %.3g" % d)
    print("# %s: max |P - dnn-predict|: %s (tolerance %.0e)" % (name, ", ".join(report), tol))


def public_only():
    inc = os.path.join(PREFIX, "include", "dnn")
    headers = sorted(os.listdir(inc))
    require(headers == ["common.h", "dnn.h"], "include/dnn/ holds %s, expected only common.h and dnn.h" % headers)
    for h in headers:
        with open(os.path.join(inc, h)) as f:
            text = f.read()
        for bad in ("<mpi.h>", "<hdf5.h>", '"mpi.h"', '"hdf5.h"'):
            require("#include " + bad not in text, "installed %s includes %s" % (h, bad))
    lib = os.path.join(PREFIX, "lib", "libdnn.a")
    syms = R.run(["nm", "--defined-only", lib], what="nm --defined-only libdnn.a")
    defined = {l.split()[2] for l in syms.splitlines() if len(l.split()) == 3 and l.split()[1] in "TDBRC"}
    for need in ("dnn_net_load", "dnn_net_predict", "dnn_net_free"):
        require(need in defined, "libdnn.a does not define %s (nm sees %d symbols)" % (need, len(defined)))
    program = sorted(s for s in defined if s == "dnn_train_main" or s == "main" or
                     s.startswith(("dnn_cli_", "dnn_sweep_", "dnn_train_", "dnn_report_", "dnn_dist_", "dnn_gradcheck_",
                                   "sweep_", "train_")))
    require(not program, "libdnn.a holds the programs' code: %s" % program[:8])
    undef = R.run(["nm", "-u", lib], what="nm -u libdnn.a")
    mpi = sorted({l.split()[-1] for l in undef.splitlines() if l.split() and l.split()[-1].startswith(("MPI_", "PMPI_"))})
    require(not mpi, "libdnn.a calls MPI: %s" % mpi[:5])


R.case("install", install)
R.case("installed_set_is_public_api", public_only)
R.case("cmake_find_package_consumer", build_cmake)
R.case("pkg_config_makefile_consumer", build_make)
for name, make, args, tol in MODELS:
    R.case("predict_" + name, model_case, name, make, args, tol)
R.finish()
