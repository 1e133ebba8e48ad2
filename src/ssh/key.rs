//! The public half of a private key in OpenSSH's own format (`BEGIN OPENSSH PRIVATE KEY`,
//! what ssh-keygen writes by default). The format keeps the public key unencrypted ahead of
//! the private part, so it is read without the passphrase and without any cryptography.
//! Handing it to libssh2 spares it deriving the public key from the private one, which
//! parses the key a second time through OpenSSL 3's decoders (about half a millisecond of
//! a key login's CPU).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// The public key of an OpenSSH-format private key, as a `.pub` line has it
/// (`<type> <base64>`); None for any other format, or a damaged key (libssh2 then reads
/// the key itself and says what is wrong with it).
pub fn openssh_public(private: &str) -> Option<String> {
    let body = private.split_once(BEGIN)?.1.split_once(END)?.0;
    let text: String = body.split_whitespace().collect();
    let bytes = B64.decode(text).ok()?;
    let mut rest = bytes.strip_prefix(MAGIC)?;
    // The cipher, the key derivation and its options; then how many keys.
    for _ in 0..3 {
        string(&mut rest)?;
    }
    let count = u32::from_be_bytes(take(&mut rest, 4)?.try_into().ok()?);
    if count == 0 {
        return None;
    }
    let blob = string(&mut rest)?;
    let mut inside = blob;
    let kind = std::str::from_utf8(string(&mut inside)?).ok()?;
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(format!("{kind} {}", B64.encode(blob)))
}

/// An SSH `string`: a big-endian 32-bit length, then that many bytes.
fn string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take(rest, 4)?.try_into().ok()?);
    take(rest, usize::try_from(len).ok()?)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    /// A key file with `blob` as its first public key (the private part is not read).
    fn file(blob: &[u8], count: u32) -> String {
        let mut bytes = MAGIC.to_vec();
        for s in [
            &b"aes256-ctr"[..],
            b"bcrypt",
            b"\x00\x00\x00\x10salt-and-rounds",
        ] {
            bytes.extend(string(s));
        }
        bytes.extend(count.to_be_bytes());
        bytes.extend(string(blob));
        bytes.extend(string(b"encrypted private part"));
        let b64 = B64.encode(&bytes);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(70)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!("{BEGIN}\n{}\n{END}\n", lines.join("\n"))
    }

    #[test]
    fn the_public_key_is_read_without_the_passphrase() {
        let mut blob = string(b"ssh-ed25519");
        blob.extend(string(&[7; 32]));
        let expected = format!("ssh-ed25519 {}", B64.encode(&blob));
        assert_eq!(openssh_public(&file(&blob, 1)), Some(expected));
    }

    #[test]
    fn other_formats_and_damaged_keys_are_left_to_libssh2() {
        let mut blob = string(b"ssh-ed25519");
        blob.extend(string(&[7; 32]));
        let good = file(&blob, 1);
        assert_eq!(
            openssh_public(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
            ),
            None
        );
        assert_eq!(openssh_public(&file(&blob, 0)), None);
        assert_eq!(openssh_public(&file(&string(b"bad type"), 1)), None);
        assert_eq!(openssh_public(&good.replace(END, "")), None);
        assert_eq!(openssh_public(&good.replacen('A', "*", 1)), None);
        // Cut anywhere: never a panic, never a wrong key.
        let b64: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
        for cut in 0..b64.len() {
            let cut_file = format!("{BEGIN}\n{}\n{END}\n", &b64[..cut]);
            let got = openssh_public(&cut_file);
            assert!(
                got.is_none() || got == openssh_public(&good),
                "cut at {cut}"
            );
        }
    }
}
