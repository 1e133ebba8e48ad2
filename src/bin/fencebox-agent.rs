//! `fencebox-agent`: the binary most fence_* links point to: every agent call that does
//! not speak SSH (SNMP, IPMI, NUT, dummy, device shells over telnet) runs here. It leaves
//! libssh2 and its static OpenSSL out, whose relocations at start-up would double such a
//! call's CPU (src/ssh/mod.rs); calls over SSH are handed to `fencebox-shell` beside it,
//! power chains and fencebox's commands to `fencebox` (src/cli.rs, `agent_main`).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[path = "../process_start.rs"]
mod process_start;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // SAFETY: main's own argc and argv.
    unsafe { process_start::start(argc, argv, fencebox::cli::agent_main) }
}
