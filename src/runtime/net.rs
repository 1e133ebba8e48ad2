//! Name resolution shared by every network backend (`udp:`/`udp6:` prefixes and `[v6]`
//! brackets accepted).

use std::net::{SocketAddr, ToSocketAddrs};

/// A device address that does not resolve to a usable IP address; the message names the
/// address and says to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError(pub String);

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResolveError {}

type Result<T> = std::result::Result<T, ResolveError>;

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
            ResolveError(format!(
                "Failed: cannot resolve the address '{host}' ({e}); check ip"
            ))
        })?
        .filter(|a| want_v6.is_none_or(|v6| a.is_ipv6() == v6))
        .collect();
    if addrs.is_empty() {
        return Err(ResolveError(format!(
            "Failed: the address '{host}' has no usable IP address; check ip"
        )));
    }
    Ok(addrs)
}
