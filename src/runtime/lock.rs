//! Per-device serialisation: an flock on a file named from the device's identity.
//!
//! Every fencebox call through one device takes the same lock before its first contact
//! and keeps it until it is done, across both halves of a reboot. The kernel drops the
//! lock when the holder exits, however it exits, so a killed call cannot wedge the
//! device. Read-only actions on devices that tolerate concurrent readers share the lock.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::contract::error::{FenceError, Result};

/// Who a device is: two spellings of one device give the same identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub transport: &'static str,
    /// Normalised address (IP address, host name, or canonical path).
    pub address: String,
    pub port: Option<u16>,
    /// A sub-device that is locked on its own (a UPS behind one upsd).
    pub unit: Option<String>,
}

impl DeviceIdentity {
    /// A network device: the host is normalised (brackets, case, IP spelling) and, when it
    /// is a name, resolved, so that `localhost` and `127.0.0.1` share a lock.
    pub fn network(transport: &'static str, host: &str, port: u16) -> Self {
        DeviceIdentity {
            transport,
            address: normalise_host(host, port),
            port: Some(port),
            unit: None,
        }
    }

    /// A network device whose name has been resolved (to at least one address): the
    /// smallest address, so that a resolver rotating its answers keeps one lock.
    pub fn for_addrs(transport: &'static str, addrs: &[std::net::SocketAddr], port: u16) -> Self {
        DeviceIdentity {
            transport,
            address: addrs
                .iter()
                .map(|a| a.ip().to_canonical())
                .min()
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            port: Some(port),
            unit: None,
        }
    }

    /// The text the lock file name is made from.
    pub fn key(&self) -> String {
        let mut k = format!("{}:{}", self.transport, self.address);
        if let Some(p) = self.port {
            k.push_str(&format!(":{p}"));
        }
        if let Some(u) = &self.unit {
            k.push_str(&format!(":{u}"));
        }
        k
    }

    pub fn lock_file_name(&self) -> String {
        let key = self.key();
        let readable: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(80)
            .collect();
        format!("{readable}-{:016x}.lock", fnv1a(key.as_bytes()))
    }
}

fn normalise_host(host: &str, port: u16) -> String {
    let h = host.trim();
    let h = h
        .strip_prefix("udp6:")
        .or_else(|| h.strip_prefix("udp:"))
        .unwrap_or(h);
    let h = h
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(ip) = h.parse::<IpAddr>() {
        return ip.to_canonical().to_string();
    }
    let name = h.trim_end_matches('.').to_ascii_lowercase();
    // The smallest resolved address: stable even when a resolver rotates its answers.
    match (name.as_str(), port).to_socket_addrs() {
        Ok(addrs) => addrs
            .map(|a| a.ip().to_canonical())
            .min()
            .map(|ip| ip.to_string())
            .unwrap_or(name),
        Err(_) => name,
    }
}

/// FNV-1a: a stable, dependency-free hash that keeps distinct identities apart after
/// the readable part of the file name has been simplified.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// A held device lock; dropping it releases the lock.
pub struct DeviceLock {
    file: File,
    pub path: PathBuf,
    pub waited: Duration,
}

impl DeviceLock {
    /// Give the lock back now (rather than at drop), so the release can be logged after
    /// it really happened.
    pub fn release(self) {
        let _ = self.file.unlock();
    }
}

/// Take the device lock, waiting at most `budget` (None: as long as it takes).
/// `owner` describes this call to whoever has to wait for it.
pub fn acquire(
    dir: &Path,
    id: &DeviceIdentity,
    mode: LockMode,
    budget: Option<Duration>,
    owner: &str,
) -> Result<DeviceLock> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| {
            FenceError::Local(format!(
                "Failed: cannot create the lock directory {} ({e}); set FENCEBOX_LOCK_DIR to a writable directory",
                dir.display()
            ))
        })?;
    let path = dir.join(id.lock_file_name());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            FenceError::Local(format!(
                "Failed: cannot open the lock file {} ({e}); set FENCEBOX_LOCK_DIR to a writable directory",
                path.display()
            ))
        })?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut announced = false;
    loop {
        let attempt = match mode {
            LockMode::Exclusive => file.try_lock(),
            LockMode::Shared => file.try_lock_shared(),
        };
        match attempt {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(FenceError::Local(format!(
                    "Failed: cannot lock {} ({e})",
                    path.display()
                )))
            }
        }
        let holder = read_holder(&mut file);
        if !announced {
            log_info!(
                "waiting for device {} (lock {}), in use by {}",
                id.key(),
                path.display(),
                holder
            );
            announced = true;
        }
        if budget.is_some_and(|b| start.elapsed() >= b) {
            return Err(FenceError::TimedOut(format!(
                "gave up after {:.1} s waiting for device {}, in use by {}",
                start.elapsed().as_secs_f64(),
                id.key(),
                holder
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    if mode == LockMode::Exclusive {
        // Only an exclusive holder may describe itself: shared holders would overwrite
        // each other.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(owner.as_bytes());
    }
    Ok(DeviceLock {
        file,
        path,
        waited: start.elapsed(),
    })
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = Read::by_ref(file).take(512).read_to_string(&mut s);
    let s = s.trim();
    if s.is_empty() {
        "another fencebox call".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_device_share_an_identity() {
        let a = DeviceIdentity::network("snmp", "127.0.0.1", 161);
        let b = DeviceIdentity::network("snmp", "localhost", 161);
        let c = DeviceIdentity::network("snmp", "udp:127.0.0.1", 161);
        assert_eq!(a.lock_file_name(), b.lock_file_name());
        assert_eq!(a.lock_file_name(), c.lock_file_name());
        let v6a = DeviceIdentity::network("snmp", "[::1]", 161);
        let v6b = DeviceIdentity::network("snmp", "0:0:0:0:0:0:0:1", 161);
        assert_eq!(v6a.lock_file_name(), v6b.lock_file_name());
        let v6c = DeviceIdentity::network("snmp", "udp6:[::1]", 161);
        assert_eq!(v6a.lock_file_name(), v6c.lock_file_name());
        let resolved: Vec<std::net::SocketAddr> =
            ("localhost", 161).to_socket_addrs().unwrap().collect();
        assert_eq!(
            DeviceIdentity::for_addrs("snmp", &resolved, 161).lock_file_name(),
            DeviceIdentity::network("snmp", "localhost", 161).lock_file_name()
        );
        let mapped = DeviceIdentity::network("snmp", "::ffff:127.0.0.1", 161);
        assert_eq!(mapped.lock_file_name(), a.lock_file_name());
    }

    #[test]
    fn different_devices_differ() {
        let a = DeviceIdentity::network("snmp", "127.0.0.1", 161);
        let b = DeviceIdentity::network("snmp", "127.0.0.1", 162);
        let c = DeviceIdentity::network("ipmi", "127.0.0.1", 161);
        assert_ne!(a.lock_file_name(), b.lock_file_name());
        assert_ne!(a.lock_file_name(), c.lock_file_name());
    }
}
