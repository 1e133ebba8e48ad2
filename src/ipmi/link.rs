//! One UDP socket to one BMC, and the retransmission policy: each try waits `timeout`
//! for an acceptable answer; datagrams that are not (another session's, stale, forged,
//! malformed) are skipped without ending the wait.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::ipmi::IpmiError;

/// Largest datagram a BMC sends fencebox (IPMI messages are short; 1 KiB is ample).
const MAX_DATAGRAM: usize = 1024;

pub struct Link {
    sock: UdpSocket,
    peer: SocketAddr,
    pub timeout: Duration,
    pub tries: u32,
}

/// What a reader makes of one datagram.
pub enum Verdict<T> {
    Accept(T),
    /// Not for this request: keep waiting.
    Skip(&'static str),
    /// A definite answer that ends the exchange with an error.
    Fail(IpmiError),
}

impl Link {
    pub fn open(peer: SocketAddr, timeout: Duration, tries: u32) -> Result<Self, IpmiError> {
        let local: SocketAddr = if peer.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let io =
            |e: std::io::Error| IpmiError::Io(format!("cannot open a UDP socket to {peer}: {e}"));
        let sock = UdpSocket::bind(local).map_err(io)?;
        // A connected socket only receives from the BMC's address and port.
        sock.connect(peer).map_err(io)?;
        Ok(Link {
            sock,
            peer,
            timeout,
            tries: tries.max(1),
        })
    }

    /// Send what `build` makes for each try (try numbers from 0), until `read` accepts
    /// a datagram or fails the exchange; `what` names the request in errors.
    pub fn exchange<T>(
        &mut self,
        what: &str,
        tries: u32,
        mut build: impl FnMut(u32) -> Result<Vec<u8>, IpmiError>,
        mut read: impl FnMut(&[u8]) -> Verdict<T>,
    ) -> Result<T, IpmiError> {
        let mut buf = [0u8; MAX_DATAGRAM];
        for attempt in 0..tries.max(1) {
            let packet = build(attempt)?;
            if let Err(e) = self.sock.send(&packet) {
                // ICMP "port unreachable" from an earlier send surfaces here on Linux;
                // it means nothing listens yet, which the next try may change.
                if e.kind() != ErrorKind::ConnectionRefused {
                    return Err(IpmiError::Io(format!(
                        "cannot send {what} to {}: {e}",
                        self.peer
                    )));
                }
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let _ = self.sock.set_read_timeout(Some(left));
                match self.sock.recv(&mut buf) {
                    Ok(n) => match read(&buf[..n]) {
                        Verdict::Accept(v) => return Ok(v),
                        Verdict::Fail(e) => return Err(e),
                        Verdict::Skip(why) => {
                            log_debug!(3, "IPMI: ignored a datagram from {} ({why})", self.peer)
                        }
                    },
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                        // Nothing listens on the port; wait out this try like a lost answer
                        // so the overall time stays bounded by the tries.
                        std::thread::sleep(left);
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(IpmiError::Io(format!(
                            "cannot receive from {}: {e}",
                            self.peer
                        )))
                    }
                }
            }
            if attempt + 1 < tries {
                log_debug!(
                    2,
                    "IPMI: no answer to {what} from {}; sending it again",
                    self.peer
                );
            }
        }
        Err(IpmiError::Timeout(format!(
            "no answer to {what} from the BMC at {} ({} tries of {:.1} s)",
            self.peer,
            tries.max(1),
            self.timeout.as_secs_f64()
        )))
    }
}
