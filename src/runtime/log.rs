//! Logging: stderr (unless quiet), syslog (facility daemon, ident = agent name) and the
//! debug file, each line in fence-agents' `time LEVEL: message` form.
//!
//! Secrets are kept out in two ways: code never formats a secret option's value, and every
//! line is scrubbed of the registered secret values before it is written anywhere, so a
//! device echoing a password back cannot leak it either.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
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

/// Shortest secret that is scrubbed from log lines: "[secret]" in place of "on" or "12"
/// would show the secret rather than hide it, and no code formats secret values anyway.
const MIN_SCRUB_LEN: usize = 4;
/// A secret of letters alone shorter than this is taken for a word ("power", "status",
/// "password"): fencebox's own messages use such words, and scrubbing them would show the
/// secret in every such line.
const MIN_WORD_SCRUB_LEN: usize = 12;
const SYSLOG_FACILITY_DAEMON: u8 = 3;

/// The log of one fencing call: its own verbosity, destinations and secrets, so that calls
/// running beside each other in one process (fleet commands, the power service) never
/// see each other's lines or settings. Protocol modules reach it through the thread the
/// call runs on (`scope`), the way a tracing dispatcher is scoped, so that a debug line
/// deep in the SNMP client needs no log argument in every signature.
pub struct Log {
    state: Mutex<State>,
}

struct State {
    ident: String,
    stderr: Stderr,
    verbose_level: u32,
    debug_file: Option<File>,
    syslog: Syslog,
    syslog_socket: Option<PathBuf>,
    secrets: Vec<String>,
    /// Values of non-secret options (see `add_public`).
    public: Vec<String>,
}

/// Where the lines a person reads go: the process's stderr, or kept in memory for a call
/// run inside a longer-lived process.
enum Stderr {
    Process,
    Memory(Vec<String>),
    Off,
}

/// The syslog socket is connected when the first line for it comes: most calls log
/// nothing there, and a connection costs three system calls per fencing request.
enum Syslog {
    Untried,
    Connected(UnixDatagram),
    Unavailable,
}

impl Syslog {
    fn socket(&mut self, path: Option<&PathBuf>) -> Option<&UnixDatagram> {
        if let Syslog::Untried = self {
            // Non-blocking: a stuck or slow syslog daemon loses lines, it never stalls fencing.
            *self = match (path, UnixDatagram::unbound()) {
                (Some(p), Ok(s)) if s.connect(p).is_ok() && s.set_nonblocking(true).is_ok() => {
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

impl Log {
    /// A call's log named after its agent, writing to the process's stderr and to the
    /// syslog socket at `syslog` (if one answers when the first line for it comes).
    pub fn new(ident: &str, syslog: Option<PathBuf>) -> Arc<Log> {
        Log::with(ident, Stderr::Process, syslog)
    }

    /// A call's log that keeps its lines in memory (`lines`) instead of writing to stderr;
    /// no syslog.
    pub fn in_memory(ident: &str) -> Arc<Log> {
        Log::with(ident, Stderr::Memory(Vec::new()), None)
    }

    fn with(ident: &str, stderr: Stderr, syslog_socket: Option<PathBuf>) -> Arc<Log> {
        let syslog = if syslog_socket.is_some() {
            Syslog::Untried
        } else {
            Syslog::Unavailable
        };
        Arc::new(Log {
            state: Mutex::new(State {
                ident: ident.to_string(),
                stderr,
                verbose_level: 0,
                debug_file: None,
                syslog,
                syslog_socket,
                secrets: Vec::new(),
                public: Vec::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while logging must not silence every later message.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply the user's choices: quiet, verbosity, debug file.
    pub fn configure(&self, quiet: bool, verbose_level: u32, debug_file: Option<File>) {
        let mut s = self.state();
        if quiet {
            s.stderr = Stderr::Off;
        }
        s.verbose_level = verbose_level;
        s.debug_file = debug_file;
    }

    /// Register a secret value: it is replaced by `[secret]` in every later line of this
    /// call, where `scrubbable` allows.
    pub fn add_secret(&self, value: &str) {
        let mut s = self.state();
        if !value.is_empty() && !s.secrets.iter().any(|x| x == value) {
            s.secrets.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            s.secrets.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    /// Register the value of a non-secret option: a secret whose text it contains is not
    /// scrubbed, because that text is shown as this value anyway ("user 'admin'").
    pub fn add_public(&self, value: &str) {
        let mut s = self.state();
        if !value.is_empty() && !s.public.iter().any(|x| x == value) {
            s.public.push(value.to_string());
        }
    }

    /// The lines kept by an in-memory log, each as it would have been written to stderr.
    pub fn lines(&self) -> Vec<String> {
        match &self.state().stderr {
            Stderr::Memory(lines) => lines.clone(),
            _ => Vec::new(),
        }
    }

    pub fn emit(&self, level: Level, detail: u32, args: fmt::Arguments<'_>) {
        let mut guard = self.state();
        let l = &mut *guard;
        let verbose = l.verbose_level >= detail;
        let to_debug_file =
            l.debug_file.is_some() && (level != Level::Debug || detail <= 1 || verbose);
        let to_stderr = !matches!(l.stderr, Stderr::Off) && (level <= Level::Warning || verbose);
        let to_syslog =
            !matches!(l.syslog, Syslog::Unavailable) && (level <= Level::Info || verbose);
        if !(to_debug_file || to_stderr || to_syslog) {
            return;
        }
        let msg = scrub(args.to_string(), &l.secrets, &l.public);
        // One event, one line: a device's multi-line answer must not forge log lines.
        let msg = escape_controls(&msg.trim_end().replace('\n', " | ")).into_owned();
        let line = format!("{} {}: {}\n", timestamp(), level.name(), msg);
        if to_stderr {
            match &mut l.stderr {
                Stderr::Process => {
                    let _ = std::io::stderr().write_all(line.as_bytes());
                }
                Stderr::Memory(lines) => lines.push(line.clone()),
                Stderr::Off => {}
            }
        }
        if to_debug_file {
            if let Some(f) = l.debug_file.as_mut() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        if to_syslog {
            let pri = SYSLOG_FACILITY_DAEMON * 8 + level.syslog_severity();
            let packet = format!("<{pri}>{}[{}]: {msg}", l.ident, std::process::id());
            if let Some(s) = l.syslog.socket(l.syslog_socket.as_ref()) {
                let _ = s.send(packet.as_bytes());
            }
        }
    }
}

thread_local! {
    /// The log of the call this thread is running, if any (see `scope`).
    static CURRENT: RefCell<Option<Arc<Log>>> = const { RefCell::new(None) };
}

/// Run `f` with `log` as the log of every line this thread writes; the previous one (if
/// any) is back when `f` returns or unwinds.
pub fn scope<R>(log: &Arc<Log>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Log>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(log)));
    let _restore = Restore(previous);
    f()
}

/// The log of the call running on this thread.
pub fn current() -> Option<Arc<Log>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Register a secret with the log of the call running on this thread.
pub fn add_secret(value: &str) {
    if let Some(log) = current() {
        log.add_secret(value);
    }
}

/// Register a non-secret value with the log of the call running on this thread.
pub fn add_public(value: &str) {
    if let Some(log) = current() {
        log.add_public(value);
    }
}

/// Whether `secret` is replaced in log lines: long enough not to be guessed from the
/// gap it leaves, not a common word, and not part of a public value.
fn scrubbable(secret: &str, public: &[String]) -> bool {
    let len = secret.chars().count();
    let word = secret.chars().all(|c| c.is_alphabetic());
    len >= MIN_SCRUB_LEN
        && !(word && len < MIN_WORD_SCRUB_LEN)
        && !public.iter().any(|p| p.contains(secret))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `msg` with every whole-token occurrence of `secret` replaced: not where it is glued to
/// letters or digits of a longer word ("1234" in "12345", "Admin1" in "Admin1x").
fn replace_token(msg: &str, secret: &str) -> Option<String> {
    let mut out = String::new();
    let (mut copied, mut from, mut found) = (0, 0, false);
    while let Some(pos) = msg[from..].find(secret).map(|p| p + from) {
        let end = pos + secret.len();
        let glued_before = secret.starts_with(is_word_char) && msg[..pos].ends_with(is_word_char);
        let glued_after = secret.ends_with(is_word_char) && msg[end..].starts_with(is_word_char);
        if glued_before || glued_after {
            from = pos + secret.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&msg[copied..pos]);
        out.push_str("[secret]");
        (copied, from, found) = (end, end, true);
    }
    found.then(|| out + &msg[copied..])
}

/// `msg` with the scrubbable secrets replaced by `[secret]`.
fn scrub(mut msg: String, secrets: &[String], public: &[String]) -> String {
    for s in secrets.iter().filter(|s| scrubbable(s, public)) {
        if let Some(replaced) = replace_token(&msg, s) {
            msg = replaced;
        }
    }
    msg
}

/// `text` with control characters written as escapes (`\x1b`, `\u{9b}`), tabs kept.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match u32::from(c) {
            _ if !c.is_control() || c == '\t' => out.push(c),
            n @ 0..=0xff => out.push_str(&format!("\\x{n:02x}")),
            n => out.push_str(&format!("\\u{{{n:x}}}")),
        }
    }
    out.into()
}

pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    emit_detail(level, 1, args)
}

/// A line for the call running on this thread; outside any call (start-up errors before
/// an agent is known), warnings and errors go to stderr as they are.
pub fn emit_detail(level: Level, detail: u32, args: fmt::Arguments<'_>) {
    match current() {
        Some(log) => log.emit(level, detail, args),
        None if level <= Level::Warning => {
            let msg = escape_controls(&args.to_string()).into_owned();
            let line = format!("{} {}: {msg}\n", timestamp(), level.name());
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        None => {}
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
    use super::*;

    #[test]
    fn each_call_scrubs_its_own_secrets_and_keeps_its_own_lines() {
        let run = |secret: &'static str, other: &'static str| {
            std::thread::spawn(move || {
                let log = Log::in_memory("unit");
                scope(&log, || {
                    add_secret(secret);
                    crate::log_warning!("mine {secret}, theirs {other}");
                });
                log.lines()
            })
        };
        let a = run("alpha-secret", "bravo-secret");
        let b = run("bravo-secret", "alpha-secret");
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(
            a[0].ends_with("WARNING: mine [secret], theirs bravo-secret\n"),
            "{a:?}"
        );
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].ends_with("WARNING: mine [secret], theirs alpha-secret\n"),
            "{b:?}"
        );
        // Outside the scope, the thread has no call log any more.
        assert!(current().is_none());
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0, 0), "1970-01-01 00:00:00,000000");
        assert_eq!(format_utc(1_795_274_436, 42), "2026-11-21 15:20:36,000042");
        assert_eq!(format_utc(951_782_400, 0), "2000-02-29 00:00:00,000000");
    }

    fn scrubbed(msg: &str, secrets: &[&str], public: &[&str]) -> String {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        scrub(msg.to_string(), &own(secrets), &own(public))
    }

    #[test]
    fn secrets_are_scrubbed_as_whole_tokens() {
        let s = ["Pw-7f3a91"];
        assert_eq!(scrubbed("got Pw-7f3a91!", &s, &[]), "got [secret]!");
        assert_eq!(
            scrubbed("Pw-7f3a91,Pw-7f3a91", &s, &[]),
            "[secret],[secret]"
        );
        assert_eq!(
            scrubbed("xPw-7f3a91 Pw-7f3a91x", &s, &[]),
            "xPw-7f3a91 Pw-7f3a91x"
        );
        assert_eq!(
            scrubbed("port 12345 and 1234", &["1234"], &[]),
            "port 12345 and [secret]"
        );
        assert_eq!(scrubbed("-x9-", &["-x9-"], &[]), "[secret]");
    }

    #[test]
    fn scrubbing_does_not_point_at_short_common_or_public_secrets() {
        // Each would tell the reader the secret by where "[secret]" stands.
        let line = "the proof does not match the password of user 'admin'";
        assert_eq!(scrubbed(line, &["admin"], &["admin"]), line);
        assert_eq!(scrubbed(line, &["password"], &[]), line, "a word");
        assert_eq!(
            scrubbed("plug 12 is on", &["12", "on"], &[]),
            "plug 12 is on"
        );
        assert_eq!(
            scrubbed("user 'ad-min9'", &["ad-min9"], &["ad-min9"]),
            "user 'ad-min9'"
        );
        assert_eq!(
            scrubbed("ip 10.20.30.40", &["20.30"], &["10.20.30.40"]),
            "ip 10.20.30.40"
        );
        // Long letter-only passphrases are not words.
        assert_eq!(
            scrubbed("pw correcthorsebattery", &["correcthorsebattery"], &[]),
            "pw [secret]"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("plug \u{1b}[2J\u{7}x\r\t"),
            "plug \\x1b[2J\\x07x\\x0d\t"
        );
        assert_eq!(escape_controls("csi \u{9b}"), "csi \\x9b");
        assert_eq!(escape_controls("plain ü"), "plain ü");
    }
}
