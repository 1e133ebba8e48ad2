//! Public-key login with a key signed with here (ring), through libssh2's signing callback
//! (`libssh2_userauth_publickey`), which the ssh2 crate does not wrap. The crate's one
//! `unsafe` module: a foreign call and the callback it makes, nothing else.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uchar, c_void, CString};

use ring::signature::Ed25519KeyPair;
use ssh2::Session;

extern "C" {
    // libssh2.h: the session, a NUL-terminated user name, the public key blob, the
    // callback, and the pointer handed to it. Blocking sessions wait inside (up to the
    // session's timeout, then LIBSSH2_ERROR_TIMEOUT).
    fn libssh2_userauth_publickey(
        session: *mut c_void,
        username: *const c_char,
        pubkeydata: *const c_uchar,
        pubkeydata_len: usize,
        sign_callback: extern "C" fn(
            *mut c_void,
            *mut *mut c_uchar,
            *mut usize,
            *const c_uchar,
            usize,
            *mut *mut c_void,
        ) -> c_int,
        abstract_: *mut *mut c_void,
    ) -> c_int;
}

/// Log `user` in with the Ed25519 key `pair`, whose public key blob is `blob`.
pub fn ed25519_login(
    session: &Session,
    user: &str,
    blob: &[u8],
    pair: &Ed25519KeyPair,
) -> Result<(), ssh2::Error> {
    let user = CString::new(user).map_err(|_| {
        ssh2::Error::new(
            ssh2::ErrorCode::Session(-34), // LIBSSH2_ERROR_INVAL
            "a user name with a NUL byte",
        )
    })?;
    let mut key = std::ptr::from_ref(pair).cast_mut().cast::<c_void>();
    let rc = {
        let mut guard = session.raw();
        let handle = std::ptr::from_mut(&mut *guard).cast::<c_void>();
        // SAFETY: `handle` is the session's live handle, kept locked by `guard` for the
        // whole call; `user` and `blob` outlive it, with `blob`'s true length. `key`
        // points at `pair`, which outlives the call; `sign` only reads it.
        unsafe {
            libssh2_userauth_publickey(
                handle,
                user.as_ptr(),
                blob.as_ptr(),
                blob.len(),
                sign,
                &mut key,
            )
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(ssh2::Error::from_session_error(session, rc))
    }
}

/// libssh2's callback: sign `data` with the key `abstract_` points at, into a buffer of
/// libssh2's allocator (malloc: the ssh2 crate gives sessions no allocator of their own),
/// which libssh2 frees.
extern "C" fn sign(
    _session: *mut c_void,
    sig: *mut *mut c_uchar,
    sig_len: *mut usize,
    data: *const c_uchar,
    data_len: usize,
    abstract_: *mut *mut c_void,
) -> c_int {
    if sig.is_null() || sig_len.is_null() || data.is_null() || abstract_.is_null() {
        return -1;
    }
    // SAFETY: libssh2 passes back the pointer given to libssh2_userauth_publickey (to
    // `key`, a live Ed25519KeyPair) and `data_len` readable bytes at `data`.
    let (pair, data) = unsafe {
        (
            &*(*abstract_).cast::<Ed25519KeyPair>(),
            std::slice::from_raw_parts(data, data_len),
        )
    };
    let signature = pair.sign(data);
    let bytes = signature.as_ref();
    // SAFETY: a fresh allocation of bytes.len() bytes, checked, filled, and handed to
    // libssh2 with its length through the out-pointers it gave.
    unsafe {
        let out = libc::malloc(bytes.len()).cast::<c_uchar>();
        if out.is_null() {
            return -1;
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len());
        *sig = out;
        *sig_len = bytes.len();
    }
    0
}
