//! `/etc/fencebox/fencebox.toml`: settings of the whole site that every entry reads (agents,
//! fleet commands, the service). Today one table, `[locks]`: how calls through one device
//! are kept apart, on this host only (flock) or across hosts through etcd.
//!
//! A missing file is the installed default (local locks). A bad one is kept as its error
//! and turned into a failed call where a lock is needed, so that `metadata` and `--help`
//! still answer and a cluster can read the agent's description of itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_SITE_CONFIG: &str = "/etc/fencebox/fencebox.toml";
/// The etcd key prefix every fencebox key lives under.
pub const DEFAULT_PREFIX: &str = "fencebox/";
/// Seconds a holder that stopped renewing keeps its lease: how long a crashed host can
/// hold a device up.
pub const DEFAULT_TTL: u64 = 30;
/// Seconds to find an etcd member that answers before `on_unreachable` applies: more
/// than an election takes (etcd's defaults elect a new leader within a few seconds).
pub const DEFAULT_CONNECT_TIMEOUT: f64 = 5.0;

/// The most bytes the file may have.
const MAX_SIZE: u64 = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LockBackend {
    /// An flock per device in the lock directory: serialises the calls of one host.
    #[default]
    Local,
    /// The flock, then an etcd lock on the same device: serialises every host.
    Etcd(EtcdLocks),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdLocks {
    /// `http://` or `https://` URLs of the members' client ports.
    pub endpoints: Vec<String>,
    /// PEM CA certificates the members' certificates are checked against.
    pub ca: Option<PathBuf>,
    /// A PEM client certificate chain and its key, for members that require one.
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub prefix: String,
    pub ttl: Duration,
    pub connect_timeout: Duration,
    pub on_unreachable: OnUnreachable,
}

/// What a call does when no etcd member answers within the connect timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnreachable {
    /// Go on with this host's lock alone and log a warning (docs/locks.md says why this
    /// is the default: etcd must not become what fencing depends on).
    #[default]
    Local,
    /// Fail the action.
    Fail,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    locks: Option<LocksTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocksTable {
    backend: Option<String>,
    endpoints: Option<Vec<String>>,
    ca: Option<PathBuf>,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    prefix: Option<String>,
    ttl: Option<u64>,
    connect_timeout: Option<f64>,
    on_unreachable: Option<String>,
}

/// Read the site file: Ok(default) when it does not exist.
pub fn load(path: &Path) -> Result<LockBackend, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockBackend::Local),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut text = String::new();
    file.take(MAX_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_SIZE {
        return Err(format!("{}: larger than {MAX_SIZE} bytes", path.display()));
    }
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<LockBackend, String> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let Some(t) = file.locks else {
        return Ok(LockBackend::Local);
    };
    let shown = path.display();
    match t.backend.as_deref().unwrap_or("local") {
        "local" => return Ok(LockBackend::Local),
        "etcd" => {}
        other => {
            return Err(format!(
                "{shown}: [locks] backend = \"{other}\" is not known; use \"local\" or \"etcd\""
            ))
        }
    }
    let endpoints = t.endpoints.unwrap_or_default();
    if endpoints.is_empty() {
        return Err(format!(
            "{shown}: [locks] backend = \"etcd\" needs endpoints, e.g. endpoints = [\"https://10.0.0.1:2379\", \"https://10.0.0.2:2379\", \"https://10.0.0.3:2379\"]"
        ));
    }
    for e in &endpoints {
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"));
        if rest.is_some_and(|r| r.contains('@')) {
            return Err(format!(
                "{shown}: [locks] an endpoint carries a user name (and perhaps a password, not shown): etcd's password logins are not supported; use TLS client certificates (certificate, key)"
            ));
        }
        if rest.is_none_or(|r| r.is_empty() || r.contains('/')) {
            return Err(format!(
                "{shown}: [locks] endpoint \"{e}\" is not an etcd client URL; write http://HOST:PORT or https://HOST:PORT"
            ));
        }
    }
    if t.certificate.is_some() != t.key.is_some() {
        return Err(format!(
            "{shown}: [locks] certificate and key go together: give both (a client certificate and its key) or neither"
        ));
    }
    let prefix = t.prefix.unwrap_or_else(|| DEFAULT_PREFIX.into());
    if prefix.is_empty() || !prefix.ends_with('/') {
        return Err(format!(
            "{shown}: [locks] prefix \"{prefix}\" must end with '/' (e.g. \"fencebox/\"), so that no other key starts with it by chance"
        ));
    }
    let ttl = t.ttl.unwrap_or(DEFAULT_TTL);
    if !(2..=3600).contains(&ttl) {
        return Err(format!(
            "{shown}: [locks] ttl = {ttl} is out of range; give the lease time in whole seconds, 2 to 3600"
        ));
    }
    let connect = t.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    if !(0.05..=60.0).contains(&connect) {
        return Err(format!(
            "{shown}: [locks] connect_timeout = {connect} is out of range; give seconds, 0.05 to 60"
        ));
    }
    let on_unreachable = match t.on_unreachable.as_deref().unwrap_or("local") {
        "local" => OnUnreachable::Local,
        "fail" => OnUnreachable::Fail,
        other => {
            return Err(format!(
                "{shown}: [locks] on_unreachable = \"{other}\" is not known; use \"local\" (go on with this host's lock, the default) or \"fail\""
            ))
        }
    };
    Ok(LockBackend::Etcd(EtcdLocks {
        endpoints,
        ca: t.ca,
        certificate: t.certificate,
        key: t.key,
        prefix,
        ttl: Duration::from_secs(ttl),
        connect_timeout: Duration::from_secs_f64(connect),
        on_unreachable,
    }))
}

/// A TOML error as `file:line: what`, its first line only.
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let line = e.span().map_or(1, |s| {
        text[..s.start.min(text.len())].matches('\n').count() + 1
    });
    format!(
        "{}:{line}: {}",
        path.display(),
        e.message().lines().next().unwrap_or("not valid TOML")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<LockBackend, String> {
        parse(Path::new("/etc/fencebox/fencebox.toml"), text)
    }

    #[test]
    fn no_table_or_local_is_the_flock() {
        assert_eq!(parsed(""), Ok(LockBackend::Local));
        assert_eq!(
            parsed("[locks]\nbackend = \"local\"\nendpoints = [\"http://a:1\"]\n"),
            Ok(LockBackend::Local)
        );
        assert_eq!(
            load(Path::new("/nonexistent/fencebox.toml")),
            Ok(LockBackend::Local)
        );
    }

    #[test]
    fn etcd_with_defaults() {
        let LockBackend::Etcd(e) =
            parsed("[locks]\nbackend = \"etcd\"\nendpoints = [\"http://127.0.0.1:2379\"]\n")
                .unwrap()
        else {
            panic!("not etcd");
        };
        assert_eq!(e.prefix, "fencebox/");
        assert_eq!(e.ttl, Duration::from_secs(30));
        assert_eq!(e.connect_timeout, Duration::from_secs(5));
        assert_eq!(e.on_unreachable, OnUnreachable::Local);
    }

    #[test]
    fn bad_files_say_what_to_write() {
        let cases = [
            ("[locks]\nbackend = \"zk\"\n", "use \"local\" or \"etcd\""),
            ("[locks]\nbackend = \"etcd\"\n", "needs endpoints"),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"127.0.0.1:2379\"]\n",
                "write http://HOST:PORT",
            ),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://a:1\"]\nkey = \"/k\"\n",
                "go together",
            ),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://a:1\"]\nttl = 1\n",
                "2 to 3600",
            ),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://a:1\"]\nprefix = \"fb\"\n",
                "must end with '/'",
            ),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://a:1\"]\non_unreachable = \"wait\"\n",
                "use \"local\"",
            ),
            ("[locks]\nbakend = \"etcd\"\n", "fencebox.toml:2: unknown field"),
            (
                "[locks]\nbackend = \"etcd\"\nendpoints = [\"http://root:secret@a:1\"]\n",
                "use TLS client certificates",
            ),
        ];
        for (text, want) in cases {
            let err = parsed(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains('\n') && !err.contains("secret"), "{err}");
        }
    }
}
