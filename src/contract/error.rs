//! Typed failures, mapped once to fence-agents' messages and exit codes.
//!
//! fence-agents exits 1 for every failure (its `EC_*` numbers are never exit codes); the
//! wording matters where Pacemaker reads stderr: "timed out" becomes ETIME and
//! "Unrecognised action" becomes EOPNOTSUPP.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceError {
    /// Bad input: says what is wrong and how to fix it.
    Usage(String),
    UnrecognisedAction(String),
    /// The device refused the login (wrong user, password, community, key).
    LoginDenied(String),
    ConnectionLost(String),
    /// No answer in time (device, lock, or command).
    TimedOut(String),
    WaitingOn,
    WaitingOff,
    /// The state of a plug could not be read, or is neither on nor off.
    Status(String),
    /// The device says this plug does not exist.
    PlugNotFound(String),
    Privileges(String),
    /// The device answered, but not as it should (rejected a command, garbage reply).
    Device(String),
    /// Something on this host failed (lock directory, status file, script).
    Local(String),
}

impl FenceError {
    /// Process exit code: always 1 (0 and 2 are successes, see `engine`).
    pub fn exit_code(&self) -> u8 {
        1
    }
}

impl fmt::Display for FenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FenceError::Usage(m) | FenceError::Local(m) => f.write_str(m),
            FenceError::UnrecognisedAction(a) => write!(f, "Failed: Unrecognised action '{a}'"),
            FenceError::LoginDenied(d) => {
                write!(f, "Unable to connect/login to fencing device: {d}")
            }
            FenceError::ConnectionLost(d) => write!(f, "Connection lost: {d}"),
            FenceError::TimedOut(d) => write!(f, "Connection timed out: {d}"),
            FenceError::WaitingOn => f.write_str("Failed: Timed out waiting to power ON"),
            FenceError::WaitingOff => f.write_str("Failed: Timed out waiting to power OFF"),
            FenceError::Status(d) => write!(
                f,
                "Failed: Unable to obtain correct plug status or plug is not available: {d}"
            ),
            FenceError::PlugNotFound(p) => {
                write!(f, "Failed: plug not found: the device has no plug '{p}'")
            }
            FenceError::Privileges(d) => write!(
                f,
                "Failed: The user does not have the correct privileges to do the requested action: {d}"
            ),
            FenceError::Device(d) => write!(f, "Failed: {d}"),
        }
    }
}

impl std::error::Error for FenceError {}

impl From<crate::runtime::lock::LockError> for FenceError {
    fn from(e: crate::runtime::lock::LockError) -> Self {
        use crate::runtime::lock::LockError;
        match e {
            LockError::Local(m) => FenceError::Local(m),
            LockError::TimedOut(m) => FenceError::TimedOut(m),
        }
    }
}

/// An address that does not resolve is a configuration problem (check `ip`).
impl From<crate::runtime::net::ResolveError> for FenceError {
    fn from(e: crate::runtime::net::ResolveError) -> Self {
        FenceError::Usage(e.0)
    }
}

pub type Result<T> = std::result::Result<T, FenceError>;
