//! The start of each binary (src/main.rs, src/bin/fencebox-agent.rs, src/bin/fencebox-shell.rs), included by each
//! with `#[path]`: it is not part of the library, which forbids unsafe code.
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
//!   (the call then exits 1 saying so) instead of killing the agent mid-action.
//!
//! The arguments are taken from `main`'s own argc/argv, not from `std::env::args_os`:
//! that one is filled by a glibc start-up hook that other C libraries (musl) do not have,
//! and an empty argument list would run no agent and print usage, a false success.
//! What is given up: the "has overflowed its stack" message; a stack overflow is still
//! stopped by the guard page.

use std::ffi::{c_char, c_int, OsString};

/// What a binary's C `main` does: the set-up below, then `run` with the arguments.
///
/// # Safety
/// `argc` and `argv` are `main`'s own: argv null or `argc` NUL-terminated strings that
/// live for the whole process.
pub unsafe fn start(
    argc: c_int,
    argv: *const *const c_char,
    run: fn(Vec<OsString>) -> u8,
) -> c_int {
    if !standard_fds_open() {
        return 1; // not even /dev/null: nothing safe to write to, and nothing done
    }
    // SAFETY: called first, on the only thread; SIG_IGN for SIGPIPE touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // SAFETY: the caller passes main's argc and argv.
    let args = unsafe { arguments(argc, argv) };
    c_int::from(run(args))
}

/// argv[0..argc] as owned strings; none when argv is null or argc is not positive.
///
/// # Safety
/// `argv` must be null or point to `argc` valid NUL-terminated C strings.
unsafe fn arguments(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    let n = usize::try_from(argc).unwrap_or(0);
    if argv.is_null() {
        return Vec::new();
    }
    (0..n)
        // SAFETY: i < argc, so argv.add(i) is within the array the caller gave.
        .map(|i| unsafe { *argv.add(i) })
        .take_while(|p| !p.is_null())
        // SAFETY: each non-null entry is a NUL-terminated string (the caller's contract).
        .map(|p| unsafe { std::ffi::CStr::from_ptr(p) })
        .map(|s| std::ffi::OsString::from_vec(s.to_bytes().to_vec()))
        .collect()
}

/// Open /dev/null on each of descriptors 0, 1 and 2 that is closed; false if that fails.
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
