//! IPMI over LAN, spoken in-process: IPMI 1.5 sessions (auth none, straight password,
//! MD5) and IPMI 2.0 RMCP+ sessions (RAKP with HMAC-SHA1/-MD5/-SHA256, integrity,
//! AES-CBC-128), and the chassis commands fencing needs.
//!
//! Layers, bottom up: `wire` (bytes, no I/O), `crypto` (algorithms, no I/O), `link` (one
//! UDP socket, retransmission), `lan15` and `lanplus` (session establishment as a chain
//! of state types, each step consuming the previous one), `session` (an established
//! session: sequence numbers, replay window, integrity and encryption of every message),
//! `chassis` (the commands).

pub mod asf;
pub mod chassis;
pub mod crypto;
pub mod dcmi;
pub mod identity;
pub mod lan15;
pub mod lanplus;
pub mod link;
pub mod sensors;
pub mod session;
pub mod wire;

use std::fmt;

/// Why an IPMI exchange failed; mapped to fence-agents' messages in `device::ipmi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpmiError {
    /// No (acceptable) answer within the tries.
    Timeout(String),
    /// The socket itself failed.
    Io(String),
    /// The BMC and fencebox disagree on the password or Kg.
    AuthFailed(String),
    /// The BMC does not know the user.
    UnknownUser(String),
    /// The user may not work at the requested privilege level.
    Privilege(String),
    /// No cipher suite or authentication type both sides support.
    Unsupported(String),
    /// A command came back with a non-zero completion code.
    Completion { command: &'static str, code: u8 },
    /// The BMC answered something that breaks the protocol.
    Protocol(String),
}

impl fmt::Display for IpmiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpmiError::Timeout(m)
            | IpmiError::Io(m)
            | IpmiError::AuthFailed(m)
            | IpmiError::UnknownUser(m)
            | IpmiError::Privilege(m)
            | IpmiError::Unsupported(m)
            | IpmiError::Protocol(m) => f.write_str(m),
            IpmiError::Completion { command, code } => write!(
                f,
                "{command} failed with completion code 0x{code:02x} ({})",
                completion_text(*code)
            ),
        }
    }
}

/// Generic completion codes (IPMI 2.0 table 5-2).
pub fn completion_text(code: u8) -> &'static str {
    match code {
        0x00 => "success",
        0xc0 => "node busy",
        0xc1 => "invalid command",
        0xc2 => "command invalid for this LUN",
        0xc3 => "timeout while processing the command",
        0xc4 => "out of space",
        0xc5 => "reservation cancelled or invalid",
        0xc6 => "request data truncated",
        0xc7 => "request data length invalid",
        0xc8 => "request data field length limit exceeded",
        0xc9 => "parameter out of range",
        0xca => "cannot return the number of requested data bytes",
        0xcb => "requested sensor, data or record not present",
        0xcc => "invalid data field in request",
        0xcd => "command illegal for the sensor or record type",
        0xce => "command response could not be provided",
        0xcf => "cannot execute a duplicated request",
        0xd0 => "SDR repository in update mode",
        0xd1 => "device in firmware update mode",
        0xd2 => "BMC initialization in progress",
        0xd3 => "destination unavailable",
        0xd4 => "insufficient privilege level",
        0xd5 => "command not supported in present state",
        0xd6 => "command sub-function disabled or unavailable",
        0xff => "unspecified error",
        _ => "device-specific error",
    }
}

/// Privilege levels (the `privlvl` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    Callback = 1,
    User = 2,
    Operator = 3,
    Administrator = 4,
}

impl Privilege {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "callback" => Some(Privilege::Callback),
            "user" => Some(Privilege::User),
            "operator" => Some(Privilege::Operator),
            "administrator" | "admin" => Some(Privilege::Administrator),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Privilege::Callback => "callback",
            Privilege::User => "user",
            Privilege::Operator => "operator",
            Privilege::Administrator => "administrator",
        }
    }
}

/// IPMI 1.5 authentication types (the `auth` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    None = 0,
    Md5 = 2,
    Password = 4,
}

impl AuthType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(AuthType::None),
            "md5" => Some(AuthType::Md5),
            "password" | "straight" => Some(AuthType::Password),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::Md5 => "md5",
            AuthType::Password => "password",
        }
    }
}

/// Longest IPMI user name, for both session kinds.
pub const MAX_USER: usize = 16;

/// The user-name rule of both session kinds; the device checks it before any contact.
pub fn check_user(user: &str) -> Result<(), IpmiError> {
    if user.len() > MAX_USER {
        return Err(IpmiError::Unsupported(format!(
            "IPMI user names are at most {MAX_USER} bytes long; check username"
        )));
    }
    Ok(())
}

/// How to log in to one BMC (the link to it is opened by the caller).
pub struct Config {
    pub user: String,
    pub password: crypto::Secret,
    /// The BMC key (IPMI 2.0); the password is used where it is not set.
    pub kg: Option<crypto::Secret>,
    pub privilege: Privilege,
    pub lanplus: bool,
    /// IPMI 2.0 cipher suite; None negotiates the strongest the BMC accepts.
    pub cipher: Option<u8>,
    /// IPMI 1.5 authentication type; None picks the strongest the BMC offers.
    pub auth: Option<AuthType>,
    /// Wait for one answer (ipmitool_timeout).
    pub timeout: std::time::Duration,
    /// Requests sent before giving up, the first one included.
    pub tries: u32,
    /// IPMB address of a controller behind the BMC that chassis commands are bridged to.
    pub target: Option<u8>,
}

/// IPMI network functions (requests; a response is the request's + 1).
pub mod netfn {
    pub const CHASSIS: u8 = 0x00;
    pub const APP: u8 = 0x06;
}

/// Application commands used to set up and end sessions.
pub mod app {
    pub const GET_CHANNEL_AUTH_CAPABILITIES: u8 = 0x38;
    pub const GET_SESSION_CHALLENGE: u8 = 0x39;
    pub const ACTIVATE_SESSION: u8 = 0x3a;
    pub const SET_SESSION_PRIVILEGE: u8 = 0x3b;
    pub const CLOSE_SESSION: u8 = 0x3c;
    pub const GET_CHANNEL_CIPHER_SUITES: u8 = 0x54;
    pub const SEND_MESSAGE: u8 = 0x34;
}
