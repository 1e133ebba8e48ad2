//! `fencebox`: every agent (the SSH ones included), the fleet commands and the service.
//! Its start-up is in src/process_start.rs, shared with `fencebox-agent` and `fencebox-shell`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[path = "process_start.rs"]
mod process_start;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // SAFETY: main's own argc and argv.
    unsafe { process_start::start(argc, argv, fencebox::cli::main) }
}
