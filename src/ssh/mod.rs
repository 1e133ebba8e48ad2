//! SSH transport (layer 2): a client on libssh2 that logs in to a device shell, its
//! known-hosts file, and the `ssh_options` subset it honours. It knows nothing of
//! fence-agents' options or wording; its errors are its own.

pub mod key;
pub mod known_hosts;
pub mod options;
pub mod session;
mod sign;

use std::sync::OnceLock;
use std::time::Instant;

use crate::runtime::stream::ByteStream;

/// Logs in to a device and opens a shell on a terminal (or runs `command` on one).
pub type OpenShell = fn(
    &session::Target,
    &session::Login,
    Option<&str>,
    Instant,
) -> Result<Box<dyn ByteStream + Send>, SshError>;

/// The process's SSH client, when its binary has one.
///
/// libssh2 brings a static OpenSSL, and the dynamic loader relocates OpenSSL's tables at
/// every start whether or not a call uses SSH: about 21,000 relocations, which doubled the
/// CPU of every SNMP and IPMI agent call. So the library does not name libssh2 anywhere a
/// call reaches by itself: the entries of `fencebox` and `fencebox-shell` (`cli::main`,
/// `cli::shell_main`) install it with [`use_libssh2`], and
/// `fencebox-agent`, the binary of the agent calls that do not speak SSH, does not, so the
/// linker leaves libssh2 and OpenSSL out of it.
static CLIENT: OnceLock<OpenShell> = OnceLock::new();

/// Make libssh2 this process's SSH client.
pub fn use_libssh2() {
    let _ = CLIENT.set(session::open_shell);
}

/// The SSH client installed, if any.
pub fn client() -> Option<OpenShell> {
    CLIENT.get().copied()
}

/// Why an SSH session could not be had; each carries a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// TCP could not reach the device.
    Connect(String),
    /// Key exchange or algorithm choice failed.
    Negotiation(String),
    /// The host key is changed, or unknown where it must be known, or the file is unusable.
    HostKey(String),
    /// The device refused the login (said so; no timeout waited out).
    AuthFailed(String),
    /// The session opened but no shell or command channel.
    Channel(String),
    /// The deadline passed; says during what.
    TimedOut(String),
}

impl std::fmt::Display for SshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshError::AuthFailed(m) => write!(f, "authentication failed: {m}"),
            SshError::TimedOut(m) => write!(f, "timed out: {m}"),
            SshError::Connect(m)
            | SshError::Negotiation(m)
            | SshError::HostKey(m)
            | SshError::Channel(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SshError {}
