//! fence_dummy's device: a status file holding `on` or `off`.
//!
//! Compatible with Debian's fence_dummy: a missing file reads as off, on/off write the
//! word. Stricter where safety asks for it: a file that exists but cannot be read, is not
//! a regular file (a FIFO would block, /dev/zero never ends), or holds anything but
//! on/off, is an error rather than "off".
//!
//! Test hook: `FENCEBOX_DUMMY_IGNORE=on,off` makes the device accept those requests and
//! silently not carry them out, as a stuck relay would; it is how the tests exercise
//! the engine's timeouts through the real binary.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::contract::error::{FenceError, Result};
use crate::contract::settings::{Settings, MAX_DELAY_SECS};
use crate::device::{self, Capabilities, Device, PowerState, Problems, Session};
use crate::runtime::clock::SharedClock;
use crate::runtime::env::Env;
use crate::runtime::lock::DeviceIdentity;

/// The most of the status file that is read: `on` or `off`, with room for blanks.
const STATUS_FILE_MAX: u64 = 64;

pub struct DummyDevice {
    path: PathBuf,
    fail: bool,
    /// type=fail reports a machine that is on to status and monitor, as Debian's does, so
    /// that the device looks healthy until fencing is asked of it.
    fail_reads_on: bool,
    sleep_range: Option<u64>,
    ignore: Vec<PowerState>,
}

/// fence_dummy's options, read and checked.
#[derive(Debug)]
pub struct DummyConfig {
    path: PathBuf,
    fail: bool,
    fail_reads_on: bool,
    sleep_range: Option<u64>,
    ignore: Vec<PowerState>,
}

/// Read fence_dummy's options (defaults from its agent file): every problem at once.
pub fn configure(
    settings: &Settings,
    env: &Env,
) -> std::result::Result<DummyConfig, Vec<FenceError>> {
    let mut problems = Problems::default();
    let path = device::defaulted(settings, "status_file", &mut problems).and_then(|p| {
        if p.is_empty() {
            problems.push(FenceError::Usage(
                "Failed: status_file must not be empty; name the file that holds the state".into(),
            ));
            return None;
        }
        Some(PathBuf::from(p))
    });
    let fail = device::defaulted(settings, "type", &mut problems).and_then(|t| match t {
        "file" => Some(false),
        "fail" => Some(true),
        other => {
            problems.push(FenceError::Usage(format!(
                "Failed: type must be file or fail, not '{other}'"
            )));
            None
        }
    });
    let sleep_range = match settings.get("random_sleep_range") {
        None => Some(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_DELAY_SECS).contains(&n) => Some(Some(n)),
            _ => {
                problems.push(FenceError::Usage(format!(
                    "Failed: random_sleep_range must be a whole number of seconds from 1 to {MAX_DELAY_SECS}, not '{v}'"
                )));
                None
            }
        },
    };
    let ignore = env
        .dummy_ignore
        .split(',')
        .filter_map(|w| match w.trim() {
            "on" => Some(PowerState::On),
            "off" => Some(PowerState::Off),
            _ => None,
        })
        .collect();
    problems.finish(|| {
        Some(DummyConfig {
            path: path?,
            fail: fail?,
            fail_reads_on: settings.action.is_read_only(),
            sleep_range: sleep_range?,
            ignore,
        })
    })
}

impl DummyDevice {
    pub fn new(cfg: DummyConfig) -> Self {
        DummyDevice {
            path: cfg.path,
            fail: cfg.fail,
            fail_reads_on: cfg.fail_reads_on,
            sleep_range: cfg.sleep_range,
            ignore: cfg.ignore,
        }
    }

    fn failing(&self) -> Result<()> {
        if self.fail {
            Err(FenceError::Device(
                "You have to enter existing machine! (type=fail: this dummy device fails every request; use type=file for a working one)".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// The canonical path of a file that may not exist yet: its directory resolved, so that
/// `/tmp//x` and `/tmp/./x` are one device.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            fs::canonicalize(dir)
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

/// A random number in 1..=n from the standard library's per-process random keys.
fn random_in(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    1 + h.finish() % n
}

impl Device for DummyDevice {
    type Session<'d> = DummySession<'d>;

    fn identity(&self) -> DeviceIdentity {
        DeviceIdentity {
            transport: "dummy",
            address: canonical(&self.path).to_string_lossy().into_owned(),
            port: None,
            unit: None,
        }
    }

    fn concurrent_reads(&self) -> bool {
        true
    }

    fn connect(&mut self, clock: &SharedClock) -> Result<DummySession<'_>> {
        log_debug!(
            1,
            "device contact: dummy status file {}",
            self.path.display()
        );
        if let Some(n) = self.sleep_range {
            let s = random_in(n);
            log_info!("Random sleep for {s} seconds");
            clock.sleep(Duration::from_secs(s));
        }
        Ok(DummySession { dev: self })
    }
}

/// The status file, "connected": there is nothing to log in to.
pub struct DummySession<'d> {
    dev: &'d DummyDevice,
}

impl Session for DummySession<'_> {
    type Plug = ();

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    fn plug(&mut self, _given: &str) -> Result<()> {
        Ok(())
    }

    fn status(&mut self, _plug: &()) -> Result<PowerState> {
        let dev = self.dev;
        if dev.fail && dev.fail_reads_on {
            log_debug!(2, "type=fail: reporting on, as fence-agents does");
            return Ok(PowerState::On);
        }
        dev.failing()?;
        let Some(text) = read_status_file(&dev.path)? else {
            log_debug!(2, "{} does not exist: off", dev.path.display());
            return Ok(PowerState::Off);
        };
        let word = String::from_utf8_lossy(&text).trim().to_ascii_lowercase();
        log_debug!(2, "{} holds '{word}'", dev.path.display());
        match word.as_str() {
            "on" => Ok(PowerState::On),
            "off" => Ok(PowerState::Off),
            _ => Err(FenceError::Status(format!(
                "status_file {} holds '{}' instead of on or off",
                dev.path.display(),
                word.chars().take(40).collect::<String>()
            ))),
        }
    }

    fn set_power(&mut self, _plug: &(), state: PowerState) -> Result<()> {
        let dev = self.dev;
        dev.failing()?;
        if dev.ignore.contains(&state) {
            log_debug!(2, "FENCEBOX_DUMMY_IGNORE: not switching {}", state.lower());
            return Ok(());
        }
        log_debug!(2, "writing '{}' to {}", state.lower(), dev.path.display());
        write_status_file(&dev.path, state.lower())
    }

    fn close(self) {}
}

/// Open without blocking (a FIFO with no writer would wait for ever) and refuse anything
/// but a regular file.
fn open_regular(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let file = options.custom_flags(libc::O_NONBLOCK).open(path)?;
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(std::io::Error::other(
            "not a regular file; name a plain file that holds on or off",
        ))
    }
}

/// The first bytes of the status file; `None` when it does not exist.
fn read_status_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let cannot = |e: std::io::Error| {
        FenceError::Status(format!("cannot read status_file {} ({e})", path.display()))
    };
    let file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let mut text = Vec::new();
    file.take(STATUS_FILE_MAX + 1)
        .read_to_end(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > STATUS_FILE_MAX {
        return Err(FenceError::Status(format!(
            "status_file {} holds more than {STATUS_FILE_MAX} bytes instead of on or off",
            path.display()
        )));
    }
    Ok(Some(text))
}

fn write_status_file(path: &Path, word: &str) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    open_regular(path, &mut options)
        .and_then(|mut f| f.write_all(word.as_bytes()))
        .map_err(|e| {
            FenceError::Local(format!(
                "Failed: cannot write status_file {} ({e})",
                path.display()
            ))
        })
}
