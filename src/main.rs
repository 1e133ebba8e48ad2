//! The process entry point.
//!
//! fencebox starts once per fencing request, so its start-up is part of every request's
//! cost. Rust's usual `main` runs the standard library's runtime set-up first, and on Linux
//! that set-up reads /proc/self/maps to place a stack guard and installs an alternate
//! signal stack: about 0.1 ms per call, a third of what fencebox's own work costs
//! (docs/benchmarks.md). So the binary provides the C `main` itself and does the one part
//! of that set-up it needs: ignore SIGPIPE, so that a reader that closes its pipe early
//! makes writes fail (which the agent shrugs off) instead of killing the agent mid-action.
//! Arguments still reach `std::env::args_os` (glibc passes them to the standard library
//! before `main`). What is given up: the "has overflowed its stack" message; a stack
//! overflow is still stopped by the guard page.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    // SAFETY: called first, on the only thread; SIG_IGN for SIGPIPE touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    std::ffi::c_int::from(fencebox::cli::main())
}
