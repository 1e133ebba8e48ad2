//! What fencebox takes from its process environment, read once where a call comes in (the
//! command line today; a service's configuration later) and handed down in the call
//! context. Nothing below the entry point reads environment variables itself, so two calls
//! in one process can run with different settings and tests need not touch the
//! process-wide environment.

use std::path::PathBuf;

use crate::runtime::site::{self, LockBackend};

pub const DEFAULT_LOCK_DIR: &str = "/run/lock/fencebox";
pub const DEFAULT_AGENTS_DIR: &str = "/etc/fencebox/agents.d";
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";
pub const DEFAULT_KNOWN_HOSTS: &str = "/var/lib/fencebox/known_hosts";
pub const DEFAULT_INVENTORY: &str = "/etc/fencebox/inventory.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// Directory of the device lock files (`FENCEBOX_LOCK_DIR`).
    pub lock_dir: PathBuf,
    /// Directory of site agent and family files (`FENCEBOX_AGENTS_DIR`).
    pub agents_dir: PathBuf,
    /// The local syslog socket (`FENCEBOX_SYSLOG_SOCKET`; tests read what is sent).
    pub syslog_socket: PathBuf,
    /// fencebox's own SSH known-hosts file (`FENCEBOX_KNOWN_HOSTS`); `ssh_options`'
    /// `-o UserKnownHostsFile=` overrides it per call.
    pub known_hosts: PathBuf,
    /// The site's inventory of devices and nodes (`FENCEBOX_INVENTORY`; `--inventory`
    /// overrides it per command).
    pub inventory: PathBuf,
    /// The site's settings file (`FENCEBOX_CONFIG`).
    pub site_config: PathBuf,
    /// How device locks are taken (its `[locks]`), or why that file could not be read: a
    /// call that needs a lock fails with it, the others (metadata, help) go on.
    pub locks: Result<LockBackend, String>,
    /// Run by pacemaker-fenced (`PCMK_service`): internal timeouts off by default.
    pub under_pacemaker: bool,
    /// Tests only (`FENCEBOX_DUMMY_IGNORE`): requests the dummy device accepts and does
    /// not carry out, like a stuck relay.
    pub dummy_ignore: String,
}

impl Default for Env {
    /// The installed defaults, as if no variable were set.
    fn default() -> Self {
        Env {
            lock_dir: DEFAULT_LOCK_DIR.into(),
            agents_dir: DEFAULT_AGENTS_DIR.into(),
            syslog_socket: DEFAULT_SYSLOG_SOCKET.into(),
            known_hosts: DEFAULT_KNOWN_HOSTS.into(),
            inventory: DEFAULT_INVENTORY.into(),
            site_config: site::DEFAULT_SITE_CONFIG.into(),
            locks: Ok(LockBackend::Local),
            under_pacemaker: false,
            dummy_ignore: String::new(),
        }
    }
}

impl Env {
    /// Read the process environment (empty values count as unset).
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let defaults = Env::default();
        let site_config = var("FENCEBOX_CONFIG").map_or(defaults.site_config, PathBuf::from);
        let locks = site::load(&site_config);
        Env {
            lock_dir: var("FENCEBOX_LOCK_DIR").map_or(defaults.lock_dir, PathBuf::from),
            agents_dir: var("FENCEBOX_AGENTS_DIR").map_or(defaults.agents_dir, PathBuf::from),
            syslog_socket: var("FENCEBOX_SYSLOG_SOCKET")
                .map_or(defaults.syslog_socket, PathBuf::from),
            known_hosts: var("FENCEBOX_KNOWN_HOSTS").map_or(defaults.known_hosts, PathBuf::from),
            inventory: var("FENCEBOX_INVENTORY").map_or(defaults.inventory, PathBuf::from),
            site_config,
            locks,
            under_pacemaker: var("PCMK_service").is_some_and(|v| v == "pacemaker-fenced"),
            dummy_ignore: var("FENCEBOX_DUMMY_IGNORE")
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}
