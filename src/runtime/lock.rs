//! Per-device serialisation: an flock on a file named from the device's identity.
//!
//! Every fencebox call through one device takes the same lock before its first contact
//! and keeps it until it is done, across both halves of a reboot. The kernel drops the
//! lock when the holder exits, however it exits, so a killed call cannot wedge the
//! device. Read-only actions on devices that tolerate concurrent readers share the lock.

use std::fs::{DirBuilder, File, OpenOptions, Permissions, TryLockError};
use std::io::ErrorKind;
use std::net::{IpAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use crate::runtime::clock::{Clock, Deadline};
use crate::runtime::log::escape_controls;

/// Why a device lock could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// The lock directory or file is unusable or untrusted (the message says how to fix it).
    Local(String),
    /// Another call held the device for longer than this call could wait.
    TimedOut(String),
}

type Result<T> = std::result::Result<T, LockError>;

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
    mode: LockMode,
    pub path: PathBuf,
    pub waited: Duration,
}

impl DeviceLock {
    /// Give the lock back now (rather than at drop), so the release can be logged after
    /// it really happened.
    pub fn release(self) {
        if self.mode == LockMode::Exclusive {
            // The next waiter behind readers must not name a call that has finished.
            let _ = self.file.set_len(0);
        }
        let _ = self.file.unlock();
    }
}

/// Take the device lock, waiting at most `wait_limit` by the call's `clock` (None: as
/// long as it takes; the caller passes what is left of its time budget). `owner`
/// describes this call to whoever has to wait for it.
///
/// Waiters queue on a second lock, the turnstile (`<name>.queue`): each takes it
/// exclusively, then the device lock, and only then lets the turnstile go. So a writer
/// waiting behind readers keeps new readers out, and waiters get the device roughly in
/// the order they came (the kernel wakes blocked flock waiters oldest first) instead of
/// whoever polls at the right moment.
pub fn acquire(
    dir: &Path,
    id: &DeviceIdentity,
    mode: LockMode,
    wait_limit: Option<Duration>,
    owner: &str,
    clock: &dyn Clock,
) -> Result<DeviceLock> {
    let start = clock.elapsed();
    let dir = LockDir::open(dir)?;
    let name = id.lock_file_name();
    let file = dir.open_file(&name)?;
    let queue = dir.open_file(&format!("{name}.queue"))?;
    let mut wait = Wait {
        id,
        path: dir.path.join(&name),
        device: &file,
        clock,
        start,
        deadline: Deadline::within(clock, wait_limit),
        announced: false,
    };
    wait.take(&queue, LockMode::Exclusive)?;
    wait.take(&file, mode)?;
    let path = wait.path;
    let _ = queue.unlock();
    if mode == LockMode::Exclusive {
        // Only an exclusive holder may describe itself: shared holders would overwrite
        // each other.
        // The owner, then the device (for `fencebox locks`; the file name is shortened).
        // Written over what is there, cut only when something longer was left (a holder
        // that died): the release leaves the file empty, and a truncation is a journalled
        // change on ext4, which cost every exclusive call ~2 % of its CPU.
        let text = format!("{owner}\n{}\n", id.key());
        let _ = file.write_all_at(text.as_bytes(), 0);
        if file.metadata().is_ok_and(|m| m.len() > text.len() as u64) {
            let _ = file.set_len(text.len() as u64);
        }
    }
    Ok(DeviceLock {
        file,
        mode,
        path,
        waited: clock.elapsed().saturating_sub(start),
    })
}

/// One call's wait for its device: the turnstile, then the device lock, one deadline.
struct Wait<'a> {
    id: &'a DeviceIdentity,
    path: PathBuf,
    device: &'a File,
    clock: &'a dyn Clock,
    start: Duration,
    deadline: Deadline,
    announced: bool,
}

impl Wait<'_> {
    /// Lock `file` in `mode`, blocking in line until the deadline.
    fn take(&mut self, file: &File, mode: LockMode) -> Result<()> {
        let attempt = match mode {
            LockMode::Exclusive => file.try_lock(),
            LockMode::Shared => file.try_lock_shared(),
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(self.failed(&e)),
        }
        if !self.announced {
            log_info!(
                "waiting for device {} (lock {}), in use by {}",
                self.id.key(),
                self.path.display(),
                read_holder(self.device)
            );
            self.announced = true;
        }
        match block_until(file, mode, self.deadline, self.clock) {
            Ok(true) => Ok(()),
            Ok(false) => Err(LockError::TimedOut(format!(
                "gave up after {:.1} s waiting for device {}, in use by {}",
                self.clock
                    .elapsed()
                    .saturating_sub(self.start)
                    .as_secs_f64(),
                self.id.key(),
                read_holder(self.device)
            ))),
            Err(e) => Err(self.failed(&e)),
        }
    }

    fn failed(&self, e: &std::io::Error) -> LockError {
        LockError::Local(format!("Failed: cannot lock {} ({e})", self.path.display()))
    }
}

/// Block on the lock until `deadline`; false when the deadline came first.
///
/// flock has no timeout, so with a deadline the blocking call runs on a helper thread
/// holding a duplicate of the descriptor, and the wait for its answer goes through the
/// clock. A helper left behind at the deadline stays in line; if it ever gets the lock
/// it lets it go at once, as its duplicate is then the only one left (the caller has
/// dropped its own on the way out).
fn block_until(
    file: &File,
    mode: LockMode,
    deadline: Deadline,
    clock: &dyn Clock,
) -> std::io::Result<bool> {
    if deadline.is_unlimited() {
        lock_blocking(file, mode)?;
        return Ok(true);
    }
    let dup = file.try_clone()?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("lock-wait".into())
        .spawn(move || {
            let _ = tx.send(lock_blocking(&dup, mode));
        })?;
    let mut answer = None;
    while let Some(left) = deadline.left(clock) {
        let came = clock.block(left, &mut |t| match rx.recv_timeout(t) {
            Ok(r) => {
                answer = Some(r);
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => {
                answer = Some(Err(std::io::Error::other("lock helper died")));
                true
            }
        });
        if came {
            break;
        }
    }
    answer.map_or(Ok(false), |r| r.map(|()| true))
}

fn lock_blocking(file: &File, mode: LockMode) -> std::io::Result<()> {
    match mode {
        LockMode::Exclusive => file.lock(),
        LockMode::Shared => file.lock_shared(),
    }
}

fn read_holder(file: &File) -> String {
    written(file)
        .0
        .unwrap_or_else(|| "another fencebox call".to_string())
}

/// What the last exclusive holder wrote in a lock file: its description and its device.
fn written(file: &File) -> (Option<String>, Option<String>) {
    let mut buf = [0u8; 1024];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    let mut lines = text
        .lines()
        .map(|l| escape_controls(l.trim()).into_owned())
        .filter(|l| !l.is_empty());
    (lines.next(), lines.next())
}

/// A device lock of this host that a call holds or waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// The device's identity (or the lock file's name, if no holder has written it).
    pub device: String,
    pub path: PathBuf,
    /// Processes holding the lock, and how.
    pub holders: Vec<(u32, LockMode)>,
    /// Processes waiting for it (in the turnstile or on the lock itself).
    pub waiters: Vec<u32>,
    /// What the exclusive holder wrote of itself (None while only readers hold it).
    pub described: Option<String>,
}

/// The locks in `dir` that are held or waited for now, from the kernel's table of file
/// locks (`/proc/locks`): which processes hold each lock file and which wait.
pub fn local_entries(dir: &Path) -> std::result::Result<Vec<LocalEntry>, String> {
    let table = std::fs::read_to_string("/proc/locks")
        .map_err(|e| format!("cannot read /proc/locks ({e}); is /proc mounted?"))?;
    let kernel = kernel_locks(&table);
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "cannot read the lock directory {} ({e})",
                dir.display()
            ))
        }
    };
    let mut found = Vec::new();
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".lock") else {
            continue;
        };
        let path = entry.path();
        let inode = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.ino()).ok();
        let on = |ino: Option<u64>| -> Vec<&KernelLock> {
            kernel.iter().filter(|k| Some(k.inode) == ino).collect()
        };
        let device_locks = on(inode(&path));
        let queue_locks = on(inode(&dir.join(format!("{name}.queue"))));
        let holders: Vec<(u32, LockMode)> = device_locks
            .iter()
            .filter(|k| !k.blocked)
            .map(|k| (k.pid, k.mode))
            .collect();
        let mut waiters: Vec<u32> = device_locks
            .iter()
            .filter(|k| k.blocked)
            .chain(queue_locks.iter())
            .map(|k| k.pid)
            .filter(|pid| !holders.iter().any(|(h, _)| h == pid))
            .collect();
        waiters.dedup();
        if holders.is_empty() && waiters.is_empty() {
            continue;
        }
        let (described, device) = File::open(&path).map(|f| written(&f)).unwrap_or_default();
        let exclusive = holders.iter().any(|(_, m)| *m == LockMode::Exclusive);
        found.push(LocalEntry {
            device: device.unwrap_or_else(|| {
                stem.rsplit_once('-')
                    .map_or(stem, |(readable, _)| readable)
                    .to_string()
            }),
            path,
            holders,
            waiters,
            described: described.filter(|_| exclusive),
        });
    }
    found.sort_by(|a, b| a.device.cmp(&b.device));
    Ok(found)
}

struct KernelLock {
    pid: u32,
    mode: LockMode,
    blocked: bool,
    inode: u64,
}

/// The flocks of `/proc/locks`: `N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF`, a
/// waiter's line with `->` after the number.
fn kernel_locks(table: &str) -> Vec<KernelLock> {
    table
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip(1).peekable();
            let blocked = words.next_if_eq(&"->").is_some();
            if words.next()? != "FLOCK" {
                return None;
            }
            words.next()?;
            let mode = match words.next()? {
                "WRITE" => LockMode::Exclusive,
                "READ" => LockMode::Shared,
                _ => return None,
            };
            let pid = words.next()?.parse().ok()?;
            let inode = words.next()?.rsplit(':').next()?.parse().ok()?;
            Some(KernelLock {
                pid,
                mode,
                blocked,
                inode,
            })
        })
        .collect()
}

/// The lock directory, opened once and checked: whoever can write to it decides what a
/// lock file is, so it must be this user's (or root's), writable by no one else, and not
/// a symbolic link. Files in it are opened through the checked descriptor, so swapping
/// the directory after the check changes nothing.
struct LockDir {
    path: PathBuf,
    fd: File,
    euid: Option<u32>,
}

impl LockDir {
    fn open(path: &Path) -> Result<LockDir> {
        let created = create_missing(path)?;
        let fd = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| dir_error(path, &e))?;
        let dir = LockDir {
            path: path.to_path_buf(),
            fd,
            euid: effective_uid(),
        };
        if created {
            // Our mode, not whatever the umask left of it.
            let _ = dir.fd.set_permissions(Permissions::from_mode(0o755));
        }
        dir.check()?;
        Ok(dir)
    }

    fn trusted(&self, uid: u32) -> bool {
        uid == 0 || Some(uid) == self.euid
    }

    fn check(&self) -> Result<()> {
        let meta = self.fd.metadata().map_err(|e| dir_error(&self.path, &e))?;
        let shown = self.path.display();
        if !self.trusted(meta.uid()) {
            return Err(LockError::Local(format!(
                "Failed: the lock directory {shown} belongs to uid {}, not to root or this user; \
                 remove it, or set FENCEBOX_LOCK_DIR to a directory of this user with mode 0755",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(LockError::Local(format!(
                "Failed: the lock directory {shown} is writable by group or others (mode {:04o}); \
                 make it 0755 (chmod 0755 {shown}) or set FENCEBOX_LOCK_DIR to a directory only this user can write",
                meta.mode() & 0o7777
            )));
        }
        Ok(())
    }

    /// Open (creating if needed) the lock file `name`: never through a symbolic link, and
    /// only a plain file of this user, so that no other file can be rewritten by mistake.
    fn open_file(&self, name: &str) -> Result<File> {
        let shown = self.path.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.entry(name))
            .map_err(|e| file_error(&shown, &e))?;
        let meta = file.metadata().map_err(|e| file_error(&shown, &e))?;
        if !meta.is_file() || meta.nlink() != 1 || !self.trusted(meta.uid()) {
            return Err(LockError::Local(format!(
                "Failed: the lock file {} is not a plain file of this user (uid {}, {} links); \
                 fencebox did not make it: remove it and check who can write to {}",
                shown.display(),
                meta.uid(),
                meta.nlink(),
                self.path.display()
            )));
        }
        Ok(file)
    }

    /// The path of `name` inside the directory the descriptor holds (through /proc, the
    /// only way to a descriptor-relative open without unsafe code), or beside the checked
    /// path when /proc is not mounted.
    fn entry(&self, name: &str) -> PathBuf {
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        if via_fd.is_dir() {
            via_fd.join(name)
        } else {
            self.path.join(name)
        }
    }
}

/// Create the lock directory (and its parents) when it is missing; true if it was.
fn create_missing(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(dir_error(path, &e)),
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|e| {
            LockError::Local(format!(
                "Failed: cannot create the lock directory {} ({e}); set FENCEBOX_LOCK_DIR to a writable directory",
                path.display()
            ))
        })?;
    Ok(true)
}

fn dir_error(path: &Path, e: &std::io::Error) -> LockError {
    let shown = path.display();
    // O_DIRECTORY with O_NOFOLLOW reports a symbolic link as "not a directory".
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    LockError::Local(match e.raw_os_error() {
        _ if is_link => format!(
            "Failed: the lock directory {shown} is a symbolic link; point FENCEBOX_LOCK_DIR at a real directory of this user with mode 0755"
        ),
        Some(libc::ENOTDIR) => format!(
            "Failed: the lock directory {shown} is not a directory; remove it or set FENCEBOX_LOCK_DIR to a directory"
        ),
        _ => format!(
            "Failed: cannot open the lock directory {shown} ({e}); set FENCEBOX_LOCK_DIR to a writable directory"
        ),
    })
}

fn file_error(path: &Path, e: &std::io::Error) -> LockError {
    let shown = path.display();
    // O_DIRECTORY with O_NOFOLLOW reports a symbolic link as "not a directory".
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    LockError::Local(match e.raw_os_error() {
        _ if is_link => format!(
            "Failed: the lock file {shown} is a symbolic link, which fencebox never makes; remove it and check who can write to the lock directory"
        ),
        _ => format!(
            "Failed: cannot open the lock file {shown} ({e}); set FENCEBOX_LOCK_DIR to a writable directory"
        ),
    })
}

/// This process's effective uid (std has no safe getter): the owner the kernel gives
/// /proc/self, which is the effective uid, or root for a process that may not be dumped
/// (set-uid), and then only root's directories are trusted, as without /proc (None). One
/// stat, where /proc/self/status took an open and seven reads. Read once: a fleet
/// command takes a lock per device.
fn effective_uid() -> Option<u32> {
    static EUID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *EUID.get_or_init(|| std::fs::metadata("/proc/self").ok().map(|m| m.uid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_the_one_proc_status_gives() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let euid: u32 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(effective_uid(), Some(euid));
    }

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

    /// A fresh lock directory of this user, mode 0755 as the checks want it.
    fn lock_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fencebox-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_waiter_gives_up_at_its_budget_by_its_clock() {
        use crate::runtime::clock::{FakeClock, RealClock, Waited};
        let dir = lock_dir("budget");
        let id = DeviceIdentity::network("unit", "192.0.2.1", 1);
        let real = RealClock::started_at(std::time::Instant::now());
        let held = acquire(&dir, &id, LockMode::Exclusive, None, "the holder", &real).unwrap();
        let clock = FakeClock::default();
        clock.sleep(Duration::from_secs(2)); // the budget counts from the acquire
        let t0 = std::time::Instant::now();
        let budget = Duration::from_secs(30);
        let err = acquire(&dir, &id, LockMode::Shared, Some(budget), "w", &clock)
            .err()
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert_eq!(
            err,
            LockError::TimedOut(format!(
                "gave up after 30.0 s waiting for device {}, in use by the holder",
                id.key()
            ))
        );
        assert_eq!(clock.waits()[1..], [Waited::Blocked(budget)]);
        assert_eq!(clock.elapsed(), Duration::from_secs(32));
        held.release();
        let again = acquire(&dir, &id, LockMode::Shared, Some(budget), "w", &clock).unwrap();
        assert_eq!(again.waited, Duration::ZERO);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_kernel_table_gives_holders_and_waiters() {
        let table = "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 2345 00:1a:5678 0 EOF\n\
                     2: POSIX  ADVISORY  WRITE 99 00:1a:5678 0 EOF\n\
                     3: FLOCK  ADVISORY  READ  3456 fd:01:9999 0 EOF\n";
        let locks = kernel_locks(table);
        let seen: Vec<(u32, LockMode, bool, u64)> = locks
            .iter()
            .map(|k| (k.pid, k.mode, k.blocked, k.inode))
            .collect();
        assert_eq!(
            seen,
            [
                (1234, LockMode::Exclusive, false, 5678),
                (2345, LockMode::Exclusive, true, 5678),
                (3456, LockMode::Shared, false, 9999)
            ]
        );
    }

    #[test]
    fn a_held_lock_is_listed_with_its_holder() {
        use crate::runtime::clock::RealClock;
        let dir = lock_dir("list");
        let id = DeviceIdentity::network("unit", "192.0.2.7", 161);
        let real = RealClock::started_at(std::time::Instant::now());
        let held = acquire(
            &dir,
            &id,
            LockMode::Exclusive,
            None,
            "pid 1 (a test)",
            &real,
        )
        .unwrap();
        let listed = local_entries(&dir).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].device, id.key());
        assert_eq!(listed[0].described.as_deref(), Some("pid 1 (a test)"));
        assert_eq!(
            listed[0].holders,
            [(std::process::id(), LockMode::Exclusive)]
        );
        held.release();
        assert_eq!(local_entries(&dir).unwrap(), []);
        let _ = std::fs::remove_dir_all(&dir);
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
