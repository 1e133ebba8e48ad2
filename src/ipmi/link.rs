//! One UDP socket to one BMC, and the retransmission policy: each try waits `timeout`
//! for an acceptable answer; datagrams that are not (another session's, stale, forged,
//! malformed) are skipped without ending the wait.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use crate::ipmi::IpmiError;
use crate::runtime::clock::{Deadline, SharedClock};
use crate::runtime::net;

/// Largest datagram a BMC sends fencebox (IPMI messages are short; 1 KiB is ample).
const MAX_DATAGRAM: usize = 1024;

/// What a link sends and receives datagrams through: a UDP socket connected to the BMC,
/// or a test's stand-in.
pub trait Transport: Send {
    fn send(&mut self, packet: &[u8]) -> std::io::Result<()>;
    /// One datagram, waiting at most `wait` (zero: only one already there); None when
    /// nothing came.
    fn recv(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<Option<usize>>;
}

impl Transport for UdpSocket {
    fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
        UdpSocket::send(self, packet).map(|_| ())
    }
    fn recv(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<Option<usize>> {
        net::recv_within(self, buf, wait)
    }
}

pub struct Link {
    io: Box<dyn Transport>,
    peer: SocketAddr,
    pub timeout: Duration,
    pub tries: u32,
    /// The call's clock: each try's wait and the pause after a refusal go by it.
    pub clock: SharedClock,
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
    pub fn open(
        peer: SocketAddr,
        timeout: Duration,
        tries: u32,
        clock: SharedClock,
    ) -> Result<Self, IpmiError> {
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
        Ok(Link::over(Box::new(sock), peer, timeout, tries, clock))
    }

    /// A link through any transport (`open` uses a UDP socket).
    pub fn over(
        io: Box<dyn Transport>,
        peer: SocketAddr,
        timeout: Duration,
        tries: u32,
        clock: SharedClock,
    ) -> Self {
        Link {
            io,
            peer,
            timeout,
            tries: tries.max(1),
            clock,
        }
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
            if let Err(e) = self.io.send(&packet) {
                // ICMP "port unreachable" from an earlier send surfaces here on Linux;
                // it means nothing listens yet, which the next try may change.
                if e.kind() != ErrorKind::ConnectionRefused {
                    return Err(IpmiError::Io(format!(
                        "cannot send {what} to {}: {e}",
                        self.peer
                    )));
                }
            }
            let deadline = Deadline::after(&*self.clock, self.timeout);
            while let Some(left) = deadline.left(&*self.clock) {
                let got = self.receive(&mut buf, left)?;
                let Some(n) = got else { continue };
                match read(&buf[..n]) {
                    Verdict::Accept(v) => return Ok(v),
                    Verdict::Fail(e) => return Err(e),
                    Verdict::Skip(why) => {
                        log_debug!(3, "IPMI: ignored a datagram from {} ({why})", self.peer)
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

    /// One datagram within `left` by the call's clock; None when none came (the clock
    /// has moved on by then).
    fn receive(&mut self, buf: &mut [u8], left: Duration) -> Result<Option<usize>, IpmiError> {
        let mut got = Ok(None);
        let io = &mut self.io;
        self.clock.block(left, &mut |wait| {
            got = io.recv(buf, wait);
            !matches!(got, Ok(None))
        });
        match got {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                // Nothing listens on the port; wait out this try like a lost answer so
                // the overall time stays bounded by the tries.
                self.clock.sleep(left);
                Ok(None)
            }
            Err(e) => Err(IpmiError::Io(format!(
                "cannot receive from {}: {e}",
                self.peer
            ))),
        }
    }
}
