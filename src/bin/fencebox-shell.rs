//! `fencebox-shell`: the agent calls that log in to a device shell over SSH. It has
//! libssh2 and its static OpenSSL but not the fleet commands, the service and their
//! libraries, so a call maps and faults in less code than in `fencebox` (lower peak RSS
//! and CPU per call; docs/benchmarks.md). src/cli.rs, `shell_main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[path = "../process_start.rs"]
mod process_start;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // SAFETY: main's own argc and argv.
    unsafe { process_start::start(argc, argv, fencebox::cli::shell_main) }
}
