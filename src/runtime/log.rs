//! Logging: stderr (unless quiet), syslog (facility daemon, ident = agent name) and the
//! debug file, each line in fence-agents' `time LEVEL: message` form.
//!
//! Secrets are kept out in two ways: code never formats a secret option's value, and every
//! line is scrubbed of the registered secret values before it is written anywhere, so a
//! device echoing a password back cannot leak it either.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
    Debug,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
    fn syslog_severity(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }
}

/// Shortest secret that is scrubbed from log lines; shorter ones would mangle ordinary
/// words, and no code path formats secret values in the first place.
const MIN_SCRUB_LEN: usize = 3;
const SYSLOG_FACILITY_DAEMON: u8 = 3;

struct Logger {
    ident: String,
    stderr: bool,
    verbose_level: u32,
    debug_file: Option<File>,
    syslog: Syslog,
    secrets: Vec<String>,
}

/// The syslog socket is connected when the first line for it comes: most calls log
/// nothing there, and a connection costs three system calls per fencing request.
enum Syslog {
    Untried,
    Connected(UnixDatagram),
    Unavailable,
}

impl Syslog {
    fn socket(&mut self) -> Option<&UnixDatagram> {
        if let Syslog::Untried = self {
            let path = syslog_socket();
            // Non-blocking: a stuck or slow syslog daemon loses lines, it never stalls fencing.
            *self = match UnixDatagram::unbound() {
                Ok(s) if s.connect(&path).is_ok() && s.set_nonblocking(true).is_ok() => {
                    Syslog::Connected(s)
                }
                _ => Syslog::Unavailable,
            };
        }
        match self {
            Syslog::Connected(s) => Some(s),
            _ => None,
        }
    }
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    ident: String::new(),
    stderr: true,
    verbose_level: 0,
    debug_file: None,
    syslog: Syslog::Unavailable,
    secrets: Vec::new(),
});

fn logger() -> MutexGuard<'static, Logger> {
    // A panic while logging must not silence every later message.
    LOGGER.lock().unwrap_or_else(|p| p.into_inner())
}

/// The local syslog socket; `FENCEBOX_SYSLOG_SOCKET` points elsewhere (tests use it to
/// read what fencebox sends).
fn syslog_socket() -> std::path::PathBuf {
    std::env::var_os("FENCEBOX_SYSLOG_SOCKET")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/dev/log".into())
}

/// Name lines after the agent, and send them to the local syslog socket too (if there is
/// one when the first such line comes).
pub fn init(ident: &str) {
    let mut l = logger();
    l.ident = ident.to_string();
    l.syslog = Syslog::Untried;
}

/// Apply the user's choices: quiet, verbosity, debug file.
pub fn configure(quiet: bool, verbose_level: u32, debug_file: Option<File>) {
    let mut l = logger();
    l.stderr = !quiet;
    l.verbose_level = verbose_level;
    l.debug_file = debug_file;
}

/// Register a secret value: it is replaced by `[secret]` in every later line.
pub fn add_secret(value: &str) {
    if value.len() >= MIN_SCRUB_LEN {
        let mut l = logger();
        if !l.secrets.iter().any(|s| s == value) {
            l.secrets.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            l.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    emit_detail(level, 1, args)
}

pub fn emit_detail(level: Level, detail: u32, args: fmt::Arguments<'_>) {
    let mut l = logger();
    let verbose = l.verbose_level >= detail;
    let to_debug_file = l.debug_file.is_some() && (level != Level::Debug || detail <= 1 || verbose);
    let to_stderr = l.stderr && (level <= Level::Warning || verbose);
    let to_syslog = !matches!(l.syslog, Syslog::Unavailable) && (level <= Level::Info || verbose);
    if !(to_debug_file || to_stderr || to_syslog) {
        return;
    }
    let mut msg = args.to_string();
    for s in &l.secrets {
        if msg.contains(s.as_str()) {
            msg = msg.replace(s.as_str(), "[secret]");
        }
    }
    // One event, one line: a device's multi-line answer must not forge log lines.
    let msg = msg.trim_end().replace('\n', " | ");
    let line = format!("{} {}: {}\n", timestamp(), level.name(), msg);
    if to_stderr {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    if to_debug_file {
        if let Some(f) = l.debug_file.as_mut() {
            let _ = f.write_all(line.as_bytes());
        }
    }
    if to_syslog {
        let pri = SYSLOG_FACILITY_DAEMON * 8 + level.syslog_severity();
        let packet = format!("<{pri}>{}[{}]: {msg}", l.ident, std::process::id());
        if let Some(s) = l.syslog.socket() {
            let _ = s.send(packet.as_bytes());
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS,micro` in UTC (fence-agents prints local time with
/// milliseconds; microseconds let tests order events of concurrent calls).
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs(), now.subsec_micros())
}

fn format_utc(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{micros:06}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[macro_export]
macro_rules! log_error { ($($a:tt)*) => { $crate::runtime::log::emit($crate::runtime::log::Level::Error, format_args!($($a)*)) } }
#[macro_export]
macro_rules! log_warning { ($($a:tt)*) => { $crate::runtime::log::emit($crate::runtime::log::Level::Warning, format_args!($($a)*)) } }
#[macro_export]
macro_rules! log_info { ($($a:tt)*) => { $crate::runtime::log::emit($crate::runtime::log::Level::Info, format_args!($($a)*)) } }
/// Debug message at a detail level: 1 = the action's flow, 2 = device exchanges, 3 = raw data.
#[macro_export]
macro_rules! log_debug { ($detail:expr, $($a:tt)*) => { $crate::runtime::log::emit_detail($crate::runtime::log::Level::Debug, $detail, format_args!($($a)*)) } }

#[cfg(test)]
mod tests {
    use super::format_utc;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0, 0), "1970-01-01 00:00:00,000000");
        assert_eq!(format_utc(1_795_274_436, 42), "2026-11-21 15:20:36,000042");
        assert_eq!(format_utc(951_782_400, 0), "2000-02-29 00:00:00,000000");
    }
}
