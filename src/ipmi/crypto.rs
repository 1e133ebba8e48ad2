//! RMCP+ cryptography (IPMI 2.0 §13.28-13.31): cipher suites, RAKP key-exchange codes,
//! the session keys SIK, K1 and K2, integrity codes and AES-CBC-128; and the IPMI 1.5
//! MD5 and straight-password authentication codes. RustCrypto primitives; every key is
//! zeroised when dropped.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

pub type Secret = Zeroizing<Vec<u8>>;

/// RAKP authentication algorithm (the key-exchange HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    HmacSha1,
    HmacMd5,
    HmacSha256,
}

/// Integrity algorithm of session packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    None,
    HmacSha1_96,
    HmacMd5_128,
    Md5_128,
    HmacSha256_128,
}

/// Confidentiality algorithm of session payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidentiality {
    None,
    AesCbc128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite {
    pub id: u8,
    pub auth: Auth,
    pub integrity: Integrity,
    pub confidentiality: Confidentiality,
}

/// The cipher suites fencebox speaks (IPMI 2.0 table 22-20, without the xRC4 ones).
pub fn suite(id: u8) -> Option<CipherSuite> {
    use Auth as A;
    use Confidentiality as C;
    use Integrity as I;
    let (auth, integrity, confidentiality) = match id {
        0 => (A::None, I::None, C::None),
        1 => (A::HmacSha1, I::None, C::None),
        2 => (A::HmacSha1, I::HmacSha1_96, C::None),
        3 => (A::HmacSha1, I::HmacSha1_96, C::AesCbc128),
        6 => (A::HmacMd5, I::None, C::None),
        7 => (A::HmacMd5, I::HmacMd5_128, C::None),
        8 => (A::HmacMd5, I::HmacMd5_128, C::AesCbc128),
        11 => (A::HmacMd5, I::Md5_128, C::None),
        12 => (A::HmacMd5, I::Md5_128, C::AesCbc128),
        15 => (A::HmacSha256, I::None, C::None),
        16 => (A::HmacSha256, I::HmacSha256_128, C::None),
        17 => (A::HmacSha256, I::HmacSha256_128, C::AesCbc128),
        _ => return None,
    };
    Some(CipherSuite {
        id,
        auth,
        integrity,
        confidentiality,
    })
}

/// The order in which suites are tried when none is configured: encrypted before
/// integrity-only before authentication-only, SHA-256 before SHA-1 before MD5. Suite 0
/// (no authentication at all) is never chosen unless asked for by `cipher=0`.
pub const PREFERENCE: [u8; 11] = [17, 3, 8, 12, 16, 2, 7, 11, 15, 1, 6];

impl Auth {
    pub fn code(self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::HmacSha1 => 1,
            Auth::HmacMd5 => 2,
            Auth::HmacSha256 => 3,
        }
    }

    /// HMAC keyed by `key` over the concatenation of `parts`; empty for RAKP-none.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Auth::None => Vec::new(),
            Auth::HmacSha1 => hmac::<Hmac<Sha1>>(key, parts),
            Auth::HmacMd5 => hmac::<Hmac<Md5>>(key, parts),
            Auth::HmacSha256 => hmac::<Hmac<Sha256>>(key, parts),
        }
    }

    /// Length of the RAKP4 integrity check value (the SIK HMAC truncated as the
    /// suite's integrity algorithm truncates).
    pub fn rakp4_len(self) -> usize {
        match self {
            Auth::None => 0,
            Auth::HmacSha1 => 12,
            Auth::HmacMd5 => 16,
            Auth::HmacSha256 => 16,
        }
    }
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length: a key longer than the block is hashed first.
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

impl Integrity {
    pub fn code(self) -> u8 {
        match self {
            Integrity::None => 0,
            Integrity::HmacSha1_96 => 1,
            Integrity::HmacMd5_128 => 2,
            Integrity::Md5_128 => 3,
            Integrity::HmacSha256_128 => 4,
        }
    }

    pub fn icv_len(self) -> usize {
        match self {
            Integrity::None => 0,
            Integrity::HmacSha1_96 => 12,
            Integrity::HmacMd5_128 | Integrity::Md5_128 | Integrity::HmacSha256_128 => 16,
        }
    }

    /// The AuthCode of a session packet over `covered` (session header .. next header).
    /// HMAC algorithms are keyed by K1; MD5-128 hashes the user password around the data.
    pub fn icv(self, k1: &[u8], password: &[u8], covered: &[u8]) -> Vec<u8> {
        let mut full = match self {
            Integrity::None => return Vec::new(),
            Integrity::HmacSha1_96 => hmac::<Hmac<Sha1>>(k1, &[covered]),
            Integrity::HmacMd5_128 => hmac::<Hmac<Md5>>(k1, &[covered]),
            Integrity::HmacSha256_128 => hmac::<Hmac<Sha256>>(k1, &[covered]),
            Integrity::Md5_128 => {
                let pw = padded::<20>(password);
                let mut h = Md5::new();
                h.update(&pw[..]);
                h.update(covered);
                h.update(&pw[..]);
                h.finalize().to_vec()
            }
        };
        full.truncate(self.icv_len());
        full
    }
}

impl Confidentiality {
    pub fn code(self) -> u8 {
        match self {
            Confidentiality::None => 0,
            Confidentiality::AesCbc128 => 1,
        }
    }
}

/// A password or key as the fixed-size, zero-padded field IPMI uses.
pub fn padded<const N: usize>(secret: &[u8]) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    let n = secret.len().min(N);
    out[..n].copy_from_slice(&secret[..n]);
    out
}

/// What RAKP messages 1 and 2 established: both randoms, both session ids, the BMC's
/// GUID, the requested role byte and the user name.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub console_sid: u32,
    pub bmc_sid: u32,
    pub console_rand: [u8; 16],
    pub bmc_rand: [u8; 16],
    pub bmc_guid: [u8; 16],
    pub role: u8,
    pub user: Vec<u8>,
}

impl Exchange {
    fn user_len(&self) -> [u8; 1] {
        [self.user.len() as u8]
    }

    /// RAKP2 key-exchange code the BMC must send, keyed by the user's password.
    pub fn rakp2_code(&self, auth: Auth, password: &[u8]) -> Vec<u8> {
        auth.hmac(
            password,
            &[
                &self.console_sid.to_le_bytes(),
                &self.bmc_sid.to_le_bytes(),
                &self.console_rand,
                &self.bmc_rand,
                &self.bmc_guid,
                &[self.role],
                &self.user_len(),
                &self.user,
            ],
        )
    }

    /// RAKP3 key-exchange code the console sends, keyed by the user's password.
    pub fn rakp3_code(&self, auth: Auth, password: &[u8]) -> Vec<u8> {
        auth.hmac(
            password,
            &[
                &self.bmc_rand,
                &self.console_sid.to_le_bytes(),
                &[self.role],
                &self.user_len(),
                &self.user,
            ],
        )
    }

    /// The Session Integrity Key, keyed by Kg (the BMC key; the password when unset).
    pub fn sik(&self, auth: Auth, kg: &[u8]) -> Secret {
        Zeroizing::new(auth.hmac(
            kg,
            &[
                &self.console_rand,
                &self.bmc_rand,
                &[self.role],
                &self.user_len(),
                &self.user,
            ],
        ))
    }

    /// RAKP4 integrity check value the BMC must send, keyed by the SIK.
    pub fn rakp4_code(&self, auth: Auth, sik: &[u8]) -> Vec<u8> {
        let mut v = auth.hmac(
            sik,
            &[
                &self.console_rand,
                &self.bmc_sid.to_le_bytes(),
                &self.bmc_guid,
            ],
        );
        v.truncate(auth.rakp4_len());
        v
    }
}

/// K1 (integrity key) and K2 (confidentiality key): HMAC of the SIK over the constants
/// Const 1 and Const 2 of IPMI 2.0 §13.32, 20 bytes of 0x01 or 0x02 for every algorithm.
/// The length does not follow the HMAC's output: BMCs (and ipmitool, FreeIPMI, pyghmi)
/// use 20 bytes for HMAC-MD5 and HMAC-SHA256 too, and any other length gives keys that
/// no BMC shares, so every message after RAKP 4 goes unanswered.
pub fn session_keys(auth: Auth, sik: &[u8]) -> (Secret, Secret) {
    const LEN: usize = 20;
    if auth == Auth::None {
        return (Zeroizing::new(Vec::new()), Zeroizing::new(Vec::new()));
    }
    let k1 = Zeroizing::new(auth.hmac(sik, &[&[1u8; LEN]]));
    let k2 = Zeroizing::new(auth.hmac(sik, &[&[2u8; LEN]]));
    (k1, k2)
}

type AesCbcEnc = cbc::Encryptor<aes::Aes128>;
type AesCbcDec = cbc::Decryptor<aes::Aes128>;

/// Encrypt a payload with AES-CBC-128 (key: the first 16 bytes of K2): the IV, then the
/// payload padded with 1, 2, 3, ... and the pad length to a whole number of blocks.
pub fn aes_encrypt(k2: &[u8], iv: &[u8; 16], payload: &[u8]) -> Vec<u8> {
    let key = padded::<16>(k2);
    let pad = (16 - (payload.len() + 1) % 16) % 16;
    let mut buf = Vec::with_capacity(16 + payload.len() + pad + 1);
    buf.extend_from_slice(payload);
    buf.extend((1..=pad as u8).collect::<Vec<_>>());
    buf.push(pad as u8);
    let n = buf.len();
    let enc = AesCbcEnc::new(key[..].into(), iv.into());
    // The buffer is a whole number of blocks, so NoPadding cannot fail.
    let _ = enc.encrypt_padded_mut::<NoPadding>(&mut buf, n);
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    out
}

/// Decrypt an AES-CBC-128 payload (IV first) and check and strip its padding.
pub fn aes_decrypt(k2: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        return None;
    }
    let key = padded::<16>(k2);
    let (iv, body) = data.split_at(16);
    let mut buf = body.to_vec();
    let dec = AesCbcDec::new(key[..].into(), iv.into());
    let plain = dec.decrypt_padded_mut::<NoPadding>(&mut buf).ok()?;
    let pad = *plain.last()? as usize;
    let end = plain.len().checked_sub(pad + 1)?;
    if plain[end..plain.len() - 1]
        .iter()
        .enumerate()
        .any(|(i, &b)| b as usize != i + 1)
    {
        return None;
    }
    Some(plain[..end].to_vec())
}

/// IPMI 1.5 MD5 authentication code of a session message.
pub fn v15_md5(password: &[u8], session_id: u32, message: &[u8], seq: u32) -> [u8; 16] {
    let pw = padded::<16>(password);
    let mut h = Md5::new();
    h.update(&pw[..]);
    h.update(session_id.to_le_bytes());
    h.update(message);
    h.update(seq.to_le_bytes());
    h.update(&pw[..]);
    h.finalize().into()
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(std::io::Error::other)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trip_every_length() {
        let k2 = [0x5a; 20];
        let iv = [3u8; 16];
        for n in 0..50 {
            let p: Vec<u8> = (0..n as u8).collect();
            let c = aes_encrypt(&k2, &iv, &p);
            assert_eq!(c.len() % 16, 0);
            assert_eq!(aes_decrypt(&k2, &c).as_deref(), Some(p.as_slice()));
        }
    }

    #[test]
    fn aes_rejects_bad_padding_and_lengths() {
        let c = aes_encrypt(&[1; 16], &[0; 16], b"hello");
        assert!(aes_decrypt(&[2; 16], &c).is_none(), "wrong key: bad pad");
        assert!(aes_decrypt(&[1; 16], &c[..c.len() - 1]).is_none());
        assert!(aes_decrypt(&[1; 16], &c[..16]).is_none());
    }

    #[test]
    fn suites_and_preference_are_consistent() {
        for id in PREFERENCE {
            assert!(suite(id).is_some(), "suite {id}");
        }
        for id in [4, 5, 9, 10, 13, 14, 18, 255] {
            assert!(suite(id).is_none(), "suite {id}");
        }
    }
}
