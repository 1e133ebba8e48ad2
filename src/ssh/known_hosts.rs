//! The known-hosts file fencebox owns: trust on first use, a changed key refused with the
//! file and line to remove. Lines are in OpenSSH's format (`[host]:port type base64`), so
//! `ssh-keygen -R '[host]:port' -f FILE` and `ssh -o UserKnownHostsFile=FILE` work on it.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A host key as the server presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// Its type as written in known-hosts files (`ssh-ed25519`, `ssh-rsa`, ...).
    pub kind: String,
    /// The key blob, base64 as in known-hosts files.
    pub base64: String,
}

impl HostKey {
    pub fn new(kind: &str, blob: &[u8]) -> Self {
        HostKey {
            kind: kind.to_string(),
            base64: base64(blob),
        }
    }
}

/// What the file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Known,
    Unknown,
    /// The host is listed with another key; `line` (1-based) is its first entry.
    Changed {
        line: usize,
    },
}

/// The name a host has in the file: `host` on port 22, else `[host]:port`.
pub fn host_pattern(host: &str, port: u16) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if port == 22 {
        bare.to_string()
    } else {
        format!("[{bare}]:{port}")
    }
}

/// Look `key` up for `host`:`port` in `file` (a missing file knows nothing).
pub fn check(file: &Path, host: &str, port: u16, key: &HostKey) -> std::io::Result<Verdict> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Verdict::Unknown),
        Err(e) => return Err(e),
    };
    let name = host_pattern(host, port);
    let mut first_other = None;
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(kind), Some(blob)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if hosts.starts_with('#') || !hosts.split(',').any(|h| h == name) {
            continue;
        }
        if kind == key.kind && blob == key.base64 {
            return Ok(Verdict::Known);
        }
        // Any other key for the host, of any type, is a change: accepting a new type
        // silently would let an impostor pick a type the file does not list yet.
        first_other.get_or_insert(n + 1);
    }
    Ok(match first_other {
        Some(line) => Verdict::Changed { line },
        None => Verdict::Unknown,
    })
}

/// Append `key` for `host`:`port`, creating the file (and its directory) if needed.
pub fn record(file: &Path, host: &str, port: u16, key: &HostKey) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(file)?;
    writeln!(
        f,
        "{} {} {}",
        host_pattern(host, port),
        key.kind,
        key.base64
    )
}

/// The message for a changed key: which file, which line, what to do.
pub fn changed_message(file: &Path, line: usize, host: &str, port: u16) -> String {
    let shown: PathBuf = file.to_path_buf();
    format!(
        "the host key of {} has changed (it does not match line {line} of {}); if the device was \
         replaced or re-keyed, remove that line (ssh-keygen -R '{}' -f {}) and connect again",
        host_pattern(host, port),
        shown.display(),
        host_pattern(host, port),
        shown.display()
    )
}

/// Standard base64 with padding, as known-hosts files write key blobs.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fencebox-kh-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub").join("known_hosts")
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn host_patterns_as_openssh_writes_them() {
        assert_eq!(host_pattern("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(host_pattern("10.0.0.1", 2222), "[10.0.0.1]:2222");
        assert_eq!(host_pattern("[::1]", 2222), "[::1]:2222");
    }

    #[test]
    fn first_use_records_then_knows_then_refuses_a_change() {
        let file = scratch("tofu");
        let key = HostKey::new("ssh-ed25519", b"key one");
        assert_eq!(check(&file, "::1", 2022, &key).unwrap(), Verdict::Unknown);
        record(&file, "::1", 2022, &key).unwrap();
        record(&file, "other", 22, &HostKey::new("ssh-rsa", b"x")).unwrap();
        assert_eq!(check(&file, "::1", 2022, &key).unwrap(), Verdict::Known);
        let other = HostKey::new("ssh-ed25519", b"key two");
        assert_eq!(
            check(&file, "::1", 2022, &other).unwrap(),
            Verdict::Changed { line: 1 }
        );
        let other_type = HostKey::new("ssh-rsa", b"key one");
        assert_eq!(
            check(&file, "::1", 2022, &other_type).unwrap(),
            Verdict::Changed { line: 1 }
        );
        assert_eq!(check(&file, "::1", 22, &other).unwrap(), Verdict::Unknown);
        let msg = changed_message(&file, 1, "::1", 2022);
        assert!(
            msg.contains("line 1 of") && msg.contains(&file.display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn comments_and_short_lines_are_skipped() {
        let file = scratch("comments");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "# [h]:2 ssh-rsa AAAA\n\nbroken\nh,[h]:2 ssh-rsa Zg==\n",
        )
        .unwrap();
        let key = HostKey::new("ssh-rsa", b"f");
        assert_eq!(check(&file, "h", 2, &key).unwrap(), Verdict::Known);
    }
}
