//! The process entry point.
//!
//! fencebox starts once per fencing request, so its start-up is part of every request's
//! cost. Rust's usual `main` runs the standard library's runtime set-up first, and on Linux
//! that set-up reads /proc/self/maps to place a stack guard and installs an alternate
//! signal stack: about 0.1 ms per call, a third of what fencebox's own work costs
//! (docs/benchmarks.md). So the binary provides the C `main` itself and does the parts of
//! that set-up it needs:
//! - standard descriptors that the caller left closed are opened on /dev/null, so that no
//!   file or socket fencebox opens becomes "stdout" or "stderr" (a result line written
//!   into a lock file, log lines sent to a PDU);
//! - SIGPIPE is ignored, so that a reader that closes its pipe early makes writes fail
//!   (which the agent shrugs off) instead of killing the agent mid-action.
//!
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
    if !standard_fds_open() {
        return 1; // not even /dev/null: nothing safe to write to, and nothing done
    }
    // SAFETY: called first, on the only thread; SIG_IGN for SIGPIPE touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    std::ffi::c_int::from(fencebox::cli::main())
}

/// Open /dev/null on each of descriptors 0, 1 and 2 that is closed; false if that fails.
#[cfg(not(test))]
fn standard_fds_open() -> bool {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes exactly the three pollfd entries of `fds`.
    let polled = loop {
        match unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } {
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            n => break n != -1,
        }
    };
    for pfd in fds {
        let closed = if polled {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only queries the descriptor's flags.
            (unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) }) == -1
        };
        // SAFETY: a constant NUL-terminated path; the lowest free descriptor is pfd.fd.
        if closed && (unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) }) != pfd.fd {
            return false;
        }
    }
    true
}
