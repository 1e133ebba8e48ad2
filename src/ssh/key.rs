//! Private keys in OpenSSH's own format (`BEGIN OPENSSH PRIVATE KEY`, what ssh-keygen
//! writes by default), read with the ssh-key crate before libssh2 sees them:
//! - an unencrypted Ed25519 key (the usual fencing key) is signed with here (ring), so
//!   libssh2 never parses it: it would through OpenSSL 3's decoders, whose set-up at every
//!   call was about half a millisecond, a tenth of a key-login call's CPU;
//! - any other key in that format gives its public half, kept in the clear ahead of the
//!   private part (so without the passphrase): libssh2 then parses the key once, not twice
//!   (it derives the public key from the private one otherwise);
//! - other formats (PEM, PKCS#8) and damaged files are left to libssh2, which says what is
//!   wrong with them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::signature::Ed25519KeyPair;
use ssh_key::PrivateKey;

/// What fencebox makes of a private key file's text.
pub enum KeyFile {
    /// An unencrypted Ed25519 key: its public key blob (as SSH sends it) and the pair.
    Ed25519 { blob: Vec<u8>, pair: Ed25519KeyPair },
    /// Another OpenSSH-format key: its public half as a `.pub` line (`<type> <base64>`).
    Public(String),
    /// Anything else: libssh2 reads the file itself.
    Other,
}

impl KeyFile {
    /// The public key as a `.pub` line has it (`<type> <base64>`), when known.
    pub fn public(&self) -> Option<String> {
        match self {
            KeyFile::Ed25519 { blob, .. } => Some(public_line("ssh-ed25519", blob)),
            KeyFile::Public(line) => Some(line.clone()),
            KeyFile::Other => None,
        }
    }
}

/// Read a private key file's text.
pub fn read(text: &str) -> KeyFile {
    let Ok(key) = PrivateKey::from_openssh(text) else {
        return KeyFile::Other;
    };
    let Ok(blob) = key.public_key().to_bytes() else {
        return KeyFile::Other;
    };
    if let Some(pair) = key
        .key_data()
        .ed25519()
        .filter(|_| !key.is_encrypted())
        .and_then(|k| {
            // ring checks that the public half is the seed's.
            Ed25519KeyPair::from_seed_and_public_key(k.private.as_ref(), k.public.as_ref()).ok()
        })
    {
        return KeyFile::Ed25519 { blob, pair };
    }
    KeyFile::Public(public_line(key.public_key().algorithm().as_str(), &blob))
}

/// A `.pub` line without its comment: `<type> <base64 of the blob>`.
fn public_line(kind: &str, blob: &[u8]) -> String {
    format!("{kind} {}", B64.encode(blob))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair as _;

    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    fn armour(bytes: &[u8]) -> String {
        let b64 = B64.encode(bytes);
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(70)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!("{BEGIN}\n{}\n{END}\n", lines.join("\n"))
    }

    /// An openssh-key-v1 file of the Ed25519 key of `seed`: unencrypted with `checks` as
    /// its two check numbers, or with `cipher` named (its private part then unread).
    fn ed25519_file(seed: [u8; 32], cipher: &str, checks: (u32, u32)) -> (String, Vec<u8>) {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let mut blob = string(b"ssh-ed25519");
        blob.extend(string(&public));
        let mut bytes = b"openssh-key-v1\0".to_vec();
        let kdf: &[u8] = if cipher == "none" { b"none" } else { b"bcrypt" };
        let options = if cipher == "none" {
            Vec::new()
        } else {
            let mut o = string(&[9; 16]);
            o.extend(16u32.to_be_bytes());
            o
        };
        bytes.extend(string(cipher.as_bytes()));
        bytes.extend(string(kdf));
        bytes.extend(string(&options));
        bytes.extend(1u32.to_be_bytes());
        bytes.extend(string(&blob));
        let mut private = checks.0.to_be_bytes().to_vec();
        private.extend(checks.1.to_be_bytes());
        private.extend(string(b"ssh-ed25519"));
        private.extend(string(&public));
        let mut secret = seed.to_vec();
        secret.extend(&public);
        private.extend(string(&secret));
        private.extend(string(b"fencing key"));
        let block = if cipher == "none" { 8 } else { 16 };
        let mut pad = 1u8;
        while !private.len().is_multiple_of(block) {
            private.push(pad);
            pad += 1;
        }
        bytes.extend(string(&private));
        (armour(&bytes), blob)
    }

    #[test]
    fn an_unencrypted_ed25519_key_is_signed_with_here() {
        let (text, expected) = ed25519_file([7; 32], "none", (42, 42));
        let KeyFile::Ed25519 { blob, pair } = read(&text) else {
            panic!("not read as an Ed25519 key");
        };
        assert_eq!(blob, expected);
        let reference = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
        assert_eq!(pair.sign(b"x").as_ref(), reference.sign(b"x").as_ref());
    }

    #[test]
    fn an_encrypted_key_gives_its_public_half_without_the_passphrase() {
        let (text, blob) = ed25519_file([7; 32], "aes256-ctr", (1, 1));
        let expected = format!("ssh-ed25519 {}", B64.encode(&blob));
        assert!(matches!(read(&text), KeyFile::Public(p) if p == expected));
    }

    #[test]
    fn other_formats_and_damaged_keys_are_left_to_libssh2() {
        let (good, _) = ed25519_file([7; 32], "none", (42, 42));
        let (mismatched, _) = ed25519_file([7; 32], "none", (42, 43));
        for text in [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n".to_string(),
            mismatched,
            good.replace(END, ""),
            good.replacen('A', "*", 1),
        ] {
            assert!(matches!(read(&text), KeyFile::Other), "{text}");
        }
        // Cut anywhere: never a panic, never another key.
        let b64: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
        for cut in 0..b64.len() {
            let cut_file = format!("{BEGIN}\n{}\n{END}\n", &b64[..cut]);
            assert!(matches!(read(&cut_file), KeyFile::Other), "cut at {cut}");
        }
    }
}
