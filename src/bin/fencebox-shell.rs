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
    openssl_start::prepare();
    // SAFETY: main's own argc and argv.
    unsafe { process_start::start(argc, argv, fencebox::cli::shell_main) }
}

/// OpenSSL 3's set-up, chosen before its first use (libssh2-sys initialises it in the
/// first `Session::new`). Three of its defaults cost a call about a quarter of its CPU for
/// nothing an SSH client uses (perf, December 2026):
/// - its error strings (thousands, hashed into a table) are loaded when the first error
///   state is made, which every call does; libssh2 and fencebox never print OpenSSL's
///   messages (an error code without its text is all a message would lose);
/// - its random generator is CTR-DRBG on AES-256-CTR, and fetching that one cipher builds
///   every cipher of the provider; libssh2's chacha20-poly1305 (the cipher negotiated
///   with OpenSSH) is its own code, so nothing else needs them. HASH-DRBG on SHA-256 is
///   as strong (NIST SP 800-90A, 256-bit security strength; also in OpenSSL's FIPS
///   provider) and its digest is the one the key exchange fetches anyway;
/// - its legacy tables of cipher and digest names (hundreds of aliases, hashed at start,
///   then copied into the provider name map at the first fetch: a tenth of a call's
///   CPU) are left empty. Only a lookup by a legacy alias needs them; libssh2 names
///   what it uses through OpenSSL's objects (EVP_aes_128_cbc, EVP_sha1, EVP_PKEY_X25519) or
///   by the providers' own names ("SHA256" for HMAC), which the providers register
///   themselves. The agent binary's interop tests run every algorithm with it.
///
/// The configuration file is still read (OpenSSL does it at its first fetch), so a
/// `[random]` section of openssl.cnf still chooses the generator. Nothing here can fail
/// in a way that matters: an unknown generator name would only be met at the first
/// random bytes, and these names are in every OpenSSL 3 provider that has a DRBG.
#[cfg(not(test))]
mod openssl_start {
    use std::ffi::{c_char, c_int, c_void};

    // libcrypto's, linked statically through openssl-sys (libssh2-sys's crypto).
    extern "C" {
        fn OPENSSL_init_crypto(opts: u64, settings: *const c_void) -> c_int;
        fn RAND_set_DRBG_type(
            ctx: *mut c_void,
            drbg: *const c_char,
            propq: *const c_char,
            cipher: *const c_char,
            digest: *const c_char,
        ) -> c_int;
    }

    // <openssl/crypto.h>, OpenSSL 3.
    const OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS: u64 = 0x0000_0001;
    const OPENSSL_INIT_NO_ADD_ALL_CIPHERS: u64 = 0x0000_0010;
    const OPENSSL_INIT_NO_ADD_ALL_DIGESTS: u64 = 0x0000_0020;
    const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;

    pub fn prepare() {
        // SAFETY: called first in main, on the only thread, before any other OpenSSL call
        // (RAND_set_DRBG_type must precede the generators' creation). Both take no
        // pointer of ours but constant NUL-terminated strings and nulls, which they
        // accept (null context: the default one; null property query and cipher). No
        // atexit handler, as openssl-sys's own initialisation asks (OpenSSL's clean-up
        // at exit would only free memory the exit frees anyway). Results are ignored:
        // on failure OpenSSL keeps its defaults.
        unsafe {
            OPENSSL_init_crypto(
                OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS
                    | OPENSSL_INIT_NO_ADD_ALL_CIPHERS
                    | OPENSSL_INIT_NO_ADD_ALL_DIGESTS
                    | OPENSSL_INIT_NO_ATEXIT,
                std::ptr::null(),
            );
            RAND_set_DRBG_type(
                std::ptr::null_mut(),
                c"HASH-DRBG".as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                c"SHA256".as_ptr(),
            );
        }
    }
}
