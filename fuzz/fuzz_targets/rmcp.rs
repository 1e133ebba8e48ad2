//! Everything a BMC's datagram goes through before fencebox trusts it: RMCP, IPMI 1.5
//! and RMCP+ session framing (with every integrity code length), the IPMI message and its
//! checksums, AES-CBC payload decryption and the cipher-suite record parser. None of it
//! may panic, loop or allocate without bound on any input.
#![no_main]

use fencebox::ipmi::{crypto, lanplus, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for icv_len in [0, 12, 16] {
        match wire::parse(data, icv_len) {
            Ok(wire::Frame::V15(f)) => {
                let _ = wire::response(f.message);
            }
            Ok(wire::Frame::V20(f)) => {
                let _ = wire::response(f.payload);
                if f.encrypted {
                    if let Some(plain) = crypto::aes_decrypt(&[0x42; 20], f.payload) {
                        let _ = wire::response(&plain);
                    }
                }
            }
            _ => {}
        }
    }
    let _ = lanplus::parse_suite_records(data);
});
