//! Name resolution shared by every network backend (`udp:`/`udp6:` prefixes and `[v6]`
//! brackets accepted).

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

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

/// Receive one datagram on a connected socket, waiting at most `wait` (zero: only one
/// that has already arrived, which is how a fake clock waits). None when nothing came in
/// time or a signal cut the wait short; the caller's clock tells how much time is left.
pub fn recv_within(
    sock: &UdpSocket,
    buf: &mut [u8],
    wait: Duration,
) -> std::io::Result<Option<usize>> {
    let r = if wait.is_zero() {
        sock.set_nonblocking(true)?;
        let r = sock.recv(buf);
        sock.set_nonblocking(false)?;
        r
    } else {
        sock.set_read_timeout(Some(wait))?;
        sock.recv(buf)
    };
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
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

/// Have the kernel acknowledge what arrives on `tcp` at once (TCP_QUICKACK). Device shells
/// and sshd write with Nagle's algorithm on, so a second small write of theirs waits for
/// our acknowledgement of the first, and Linux delays that acknowledgement by up to 40 ms
/// while we have nothing to send: four such waits were 176 of a fence_apc telnet call's
/// 212 ms, one was 41 ms of every SSH login. The kernel falls back to delaying by itself
/// (the option is not sticky), so callers ask again before every wait for data.
pub fn ack_at_once(tcp: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = tcp;
}
