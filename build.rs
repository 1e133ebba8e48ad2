//! Link GCC's unwinder statically (libgcc_eh.a) rather than as libgcc_s.so.1.
//!
//! fencebox runs once per fencing request, so its start-up is part of every request's cost
//! (docs/benchmarks.md). Loading libgcc_s.so.1 costs a library load, its relocations and
//! its constructor, which probes the CPU with CPUID (a trap on a virtual machine): about
//! 50 us per call, for an unwinder that only ever walks a stack to print a backtrace
//! (fencebox builds with panic=abort). This is what `gcc -static-libgcc` does for C
//! programs; rustc names gcc_s itself, so the static archive is put ahead of it here and
//! the linker's --as-needed then drops libgcc_s. Where no libgcc_eh.a exists the build
//! goes on with libgcc_s, slower to start but the same program.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let found = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|p| Path::new(p).is_absolute() && Path::new(p).is_file());
    match found.as_deref().and_then(|p| Path::new(p).parent()) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={}", dir.display());
            println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
        }
        None => println!(
            "cargo:warning={cc} knows no libgcc_eh.a: linking libgcc_s.so.1 (slower start-up)"
        ),
    }
}
