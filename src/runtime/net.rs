//! Network addresses of devices: the `ip`/`ipport` options, and name resolution shared
//! by every UDP backend (`udp:`/`udp6:` prefixes and `[v6]` brackets accepted).

use std::net::{SocketAddr, ToSocketAddrs};

use crate::contract::error::{FenceError, Result};
use crate::contract::settings::Settings;

/// The device host and port from `ip` and `ipport` (`default_port` when unset).
pub fn target(settings: &Settings, default_port: u16) -> Result<(String, u16)> {
    let host = settings
        .get("ipaddr")
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| {
            FenceError::Usage("Failed: You have to enter fence address (ip=...)".into())
        })?
        .to_string();
    let default = default_port.to_string();
    let port_text = settings.get("ipport").unwrap_or(&default);
    let port: u16 = port_text.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
        FenceError::Usage(format!(
            "Failed: ipport must be a UDP port (1-65535), not '{port_text}'"
        ))
    })?;
    Ok((host, port))
}

/// Resolve `host` (an address, `[v6]`, a name, with optional `udp:`/`udp6:` prefix).
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    Ok(resolve_all(host, port)?[0])
}

/// Every usable address of `host` (at least one), in the resolver's order.
pub fn resolve_all(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let h = host.trim();
    let (h, want_v6) = match h.strip_prefix("udp6:") {
        Some(rest) => (rest, Some(true)),
        None => (h.strip_prefix("udp:").unwrap_or(h), None),
    };
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    let addrs: Vec<SocketAddr> = (h, port)
        .to_socket_addrs()
        .map_err(|e| {
            FenceError::Usage(format!(
                "Failed: cannot resolve the address '{host}' ({e}); check ip"
            ))
        })?
        .filter(|a| want_v6.is_none_or(|v6| a.is_ipv6() == v6))
        .collect();
    if addrs.is_empty() {
        return Err(FenceError::Usage(format!(
            "Failed: the address '{host}' has no usable IP address; check ip"
        )));
    }
    Ok(addrs)
}
