//! Builds the CPU shim of the CUDA kernels (`kernels/shim/`): the same `kernels/*.cu`
//! sources, compiled as host C++20 against `shim.h`, so that the GPU's host code runs and
//! is tested on every machine (see `src/device/shim.rs`). Needs only g++, which llama.cpp's
//! build needs too.

fn main() {
    println!("cargo:rerun-if-changed=kernels");
    cc::Build::new()
        .cpp(true)
        .std("c++20")
        .file("kernels/shim/shim.cpp")
        .include("kernels")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-unknown-pragmas")
        // The kernels read shared arrays of floats as float4 (and doubles as double2), as
        // CUDA allows; host C++ must not assume the two types never alias.
        .flag("-fno-strict-aliasing")
        .compile("salt_shim");
}
