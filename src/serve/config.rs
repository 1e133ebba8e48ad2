//! `/etc/fencebox/serve.toml`: where the service listens, what it serves, where it keeps
//! its journal. A bad file is one error naming the file, the line and the field.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/fencebox/serve.toml";
pub const DEFAULT_TOKENS: &str = "/etc/fencebox/tokens.toml";
pub const DEFAULT_JOURNAL: &str = "/var/lib/fencebox/journal.jsonl";
/// The journal's size before it is rotated, in MiB: some 100,000 jobs.
pub const DEFAULT_JOURNAL_MAX_MIB: u64 = 64;

/// The most bytes the configuration may have.
const MAX_SIZE: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    /// None: the process's inventory (`FENCEBOX_INVENTORY`, or the installed default).
    pub inventory: Option<PathBuf>,
    pub tokens: PathBuf,
    pub journal: PathBuf,
    /// Bytes past which the journal is rotated to `<journal>.1` (0: never).
    pub journal_limit: u64,
    /// How old the devices' readings in `/metrics` may be before a scrape reads them
    /// again (None: `/metrics` does not read the devices).
    pub stats_max_age: Option<std::time::Duration>,
    /// The fencebox API (`/v1/`) and `/metrics`.
    pub listen: Vec<SocketAddr>,
    /// TLS on the API listeners: a PEM certificate chain and its key.
    pub tls: Option<Tls>,
    /// Open connections at most, all listeners together.
    pub max_connections: usize,
    pub pdudaemon: Option<PduDaemon>,
    pub openflight: Option<OpenFlight>,
}

/// OpenFlight power-server's API. With a JWT secret its clients must send an HS256 token
/// signed with it; without one, only loopback clients are served.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFlight {
    pub listen: Vec<SocketAddr>,
    /// A file holding the shared secret (one line), readable by its owner only.
    pub jwt_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Seconds a scrape's device readings are served again before the devices are read anew
/// (a PDU's meters change slowly; a Prometheus every 15 s must not poll every PDU).
pub const DEFAULT_STATS_MAX_AGE: u64 = 60;

/// PDUDaemon's listeners: its HTTP routes and its one-line TCP protocol. Their clients
/// send no credentials, so anything but loopback needs an allow-list of client networks.
#[derive(Debug, Clone, PartialEq)]
pub struct PduDaemon {
    pub http: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub allow: Vec<IpNet>,
    /// A pdudaemon.conf whose PDUs and aliases join the inventory.
    pub config: Option<PathBuf>,
}

impl PduDaemon {
    /// Whether a client at `ip` may use these listeners.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_loopback() || self.allow.iter().any(|net| net.contains(&ip))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    inventory: Option<PathBuf>,
    tokens: Option<PathBuf>,
    journal: Option<PathBuf>,
    journal_max_mib: Option<u64>,
    stats_max_age: Option<u64>,
    #[serde(default)]
    listen: Vec<String>,
    tls: Option<Tls>,
    max_connections: Option<usize>,
    pdudaemon: Option<PduFile>,
    openflight: Option<FlightFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlightFile {
    #[serde(default)]
    listen: Vec<String>,
    jwt_secret_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PduFile {
    #[serde(default)]
    listen: Vec<String>,
    #[serde(default)]
    tcp: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    config: Option<PathBuf>,
}

/// Read and check the configuration.
pub fn load(path: &Path) -> Result<Config, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_SIZE {
        return Err(format!("{}: larger than {MAX_SIZE} bytes", path.display()));
    }
    parse(path, &text)
}

pub use crate::runtime::site::toml_error;

/// The file being read, for errors that name a line.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// `file:line` of the first line holding `needle` (a value the user wrote).
    fn line_of(&self, needle: &str) -> String {
        let line = self
            .text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1);
        format!("{}:{line}", self.path.display())
    }

    fn addrs(&self, field: &str, list: &[String]) -> Result<Vec<SocketAddr>, String> {
        list.iter()
            .map(|a| {
                a.parse::<SocketAddr>().map_err(|_| {
                    format!(
                        "{}: {field}: '{a}' is not an address and port (127.0.0.1:8080, [::1]:8080)",
                        self.line_of(a)
                    )
                })
            })
            .collect()
    }

    fn pdudaemon(&self, p: PduFile) -> Result<PduDaemon, String> {
        let allow = p
            .allow
            .iter()
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "{}: pdudaemon.allow: '{n}' is not a network (10.0.0.0/8, 2001:db8::/32)",
                            self.line_of(n)
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pdu = PduDaemon {
            http: self.addrs("pdudaemon.listen", &p.listen)?,
            tcp: self.addrs("pdudaemon.tcp", &p.tcp)?,
            allow,
            config: p.config,
        };
        let open = pdu
            .http
            .iter()
            .chain(&pdu.tcp)
            .find(|a| !a.ip().is_loopback());
        if let (Some(open), true) = (open, pdu.allow.is_empty()) {
            return Err(format!(
                "{}: pdudaemon: {open} is not loopback, and PDUDaemon's clients send no \
                 credentials; list the client networks in pdudaemon.allow",
                self.line_of(&open.to_string())
            ));
        }
        Ok(pdu)
    }

    fn openflight(&self, f: FlightFile) -> Result<OpenFlight, String> {
        let of = OpenFlight {
            listen: self.addrs("openflight.listen", &f.listen)?,
            jwt_secret_file: f.jwt_secret_file,
        };
        let open = of.listen.iter().find(|a| !a.ip().is_loopback());
        if let (Some(open), None) = (open, &of.jwt_secret_file) {
            return Err(format!(
                "{}: openflight: {open} is not loopback; set openflight.jwt_secret_file so clients must send a signed token",
                self.line_of(&open.to_string())
            ));
        }
        Ok(of)
    }
}

pub fn parse(path: &Path, text: &str) -> Result<Config, String> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let src = Source { path, text };
    let listen = src.addrs("listen", &file.listen)?;
    let pdudaemon = file.pdudaemon.map(|p| src.pdudaemon(p)).transpose()?;
    let openflight = file.openflight.map(|f| src.openflight(f)).transpose()?;
    let listens = !listen.is_empty()
        || pdudaemon
            .as_ref()
            .is_some_and(|p| !p.http.is_empty() || !p.tcp.is_empty())
        || openflight.as_ref().is_some_and(|o| !o.listen.is_empty());
    if !listens {
        return Err(format!(
            "{}: nothing to listen on; set listen = [\"127.0.0.1:8080\"], or a [pdudaemon] or [openflight] listener",
            path.display()
        ));
    }
    let max_connections = match file.max_connections {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(n) if (1..=1_000_000).contains(&n) => n,
        Some(n) => {
            return Err(format!(
                "{}: max_connections is 1 to 1000000, not {n}",
                src.line_of("max_connections")
            ))
        }
    };
    let journal_limit = match file.journal_max_mib {
        None => DEFAULT_JOURNAL_MAX_MIB << 20,
        Some(n) if n <= 1 << 20 => n << 20,
        Some(n) => {
            return Err(format!(
                "{}: journal_max_mib is 0 (never rotate) to 1048576, not {n}",
                src.line_of("journal_max_mib")
            ))
        }
    };
    let stats_max_age = match file.stats_max_age {
        None => Some(std::time::Duration::from_secs(DEFAULT_STATS_MAX_AGE)),
        Some(0) => None,
        Some(n) if n <= 86_400 => Some(std::time::Duration::from_secs(n)),
        Some(n) => {
            return Err(format!(
                "{}: stats_max_age is seconds, 0 (do not read the devices) to 86400, not {n}",
                src.line_of("stats_max_age")
            ))
        }
    };
    Ok(Config {
        stats_max_age,
        path: path.to_path_buf(),
        inventory: file.inventory,
        tokens: file.tokens.unwrap_or_else(|| DEFAULT_TOKENS.into()),
        journal: file.journal.unwrap_or_else(|| DEFAULT_JOURNAL.into()),
        journal_limit,
        listen,
        tls: file.tls,
        max_connections,
        pdudaemon,
        openflight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse_text(text: &str) -> Result<Config, String> {
        parse(Path::new("/etc/fencebox/serve.toml"), text)
    }

    #[test]
    fn a_full_file_reads() {
        let c = parse_text(
            "inventory = \"/srv/inv.toml\"\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n\
             [pdudaemon]\nlisten = [\"0.0.0.0:16421\"]\ntcp = [\"127.0.0.1:16422\"]\n\
             allow = [\"10.0.0.0/8\", \"192.0.2.7\"]\n",
        )
        .unwrap();
        assert_eq!(c.listen.len(), 2);
        let p = c.pdudaemon.unwrap();
        assert!(p.allows("10.1.2.3".parse().unwrap()));
        assert!(p.allows("192.0.2.7".parse().unwrap()));
        assert!(p.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(p.allows("127.0.0.1".parse().unwrap()));
        assert!(!p.allows("192.0.2.8".parse().unwrap()));
        assert_eq!(c.tokens, PathBuf::from(DEFAULT_TOKENS));
        assert_eq!(c.journal_limit, 64 << 20);
        let c = parse_text("journal_max_mib = 0\nlisten = [\"127.0.0.1:8080\"]\n").unwrap();
        assert_eq!(c.journal_limit, 0, "never rotated");
        let secs = |t: &str| parse_text(&format!("{t}listen = [\"127.0.0.1:8080\"]\n"));
        assert_eq!(
            secs("").unwrap().stats_max_age,
            Some(Duration::from_secs(60))
        );
        assert_eq!(secs("stats_max_age = 0\n").unwrap().stats_max_age, None);
        let e = secs("stats_max_age = 100000\n").unwrap_err();
        assert!(e.contains(":1: stats_max_age is seconds"), "{e}");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse_text("listen = [\"127.0.0.1:8080\"]\nlisen = 1\n").unwrap_err();
        assert!(e.starts_with("/etc/fencebox/serve.toml:2:"), "{e}");
        assert!(e.contains("lisen"), "{e}");
        let e =
            parse_text("listen = [\"127.0.0.1:8080\"]\n[pdudaemon]\nallow = [\"10.0.0.0/33\"]\n")
                .unwrap_err();
        assert!(e.contains(":3: pdudaemon.allow: '10.0.0.0/33'"), "{e}");
        let e =
            parse_text("listen = [\"127.0.0.1:8080\"]\njournal_max_mib = 4000000\n").unwrap_err();
        assert!(
            e.contains(":2: journal_max_mib is 0 (never rotate) to"),
            "{e}"
        );
        let e = parse_text("listen = [\"localhost\"]\n").unwrap_err();
        assert!(e.contains(":1: listen: 'localhost'"), "{e}");
    }

    #[test]
    fn open_pdudaemon_listeners_need_an_allow_list() {
        let e = parse_text("[pdudaemon]\nlisten = [\"0.0.0.0:16421\"]\n").unwrap_err();
        assert!(e.contains("pdudaemon.allow"), "{e}");
        assert!(parse_text("[pdudaemon]\nlisten = [\"127.0.0.1:16421\"]\n").is_ok());
        let e = parse_text("").unwrap_err();
        assert!(e.contains("nothing to listen on"), "{e}");
        let e = parse_text("[openflight]\nlisten = [\"[::]:6302\"]\n").unwrap_err();
        assert!(
            e.contains(":2: openflight: [::]:6302 is not loopback"),
            "{e}"
        );
        let c =
            parse_text("[openflight]\nlisten = [\"[::]:6302\"]\njwt_secret_file = \"/etc/s\"\n")
                .unwrap();
        assert_eq!(c.openflight.unwrap().listen.len(), 1);
    }
}
