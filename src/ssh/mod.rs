//! SSH transport (layer 2): a client on libssh2 that logs in to a device shell, its
//! known-hosts file, and the `ssh_options` subset it honours. It knows nothing of
//! fence-agents' options or wording; its errors are its own.

pub mod known_hosts;
pub mod options;
pub mod session;

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
