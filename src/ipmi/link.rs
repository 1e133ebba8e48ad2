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

#[cfg(test)]
mod tests {
    //! The retransmission schedule as the call's clock sees it, over a stand-in transport
    //! that answers from a script at once (no real waiting).
    use super::*;
    use crate::runtime::clock::{Clock, FakeClock, Waited};
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    /// What one receive finds: a datagram, silence (None), or a socket error.
    type Reply = std::io::Result<Option<Vec<u8>>>;

    /// What each receive finds, in order; an empty script is silence.
    #[derive(Clone, Default)]
    struct Scripted {
        replies: Arc<Mutex<VecDeque<Reply>>>,
        sent: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Transport for Scripted {
        fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
            self.sent.lock().unwrap().push(packet.to_vec());
            Ok(())
        }
        fn recv(&mut self, buf: &mut [u8], _wait: Duration) -> std::io::Result<Option<usize>> {
            match self.replies.lock().unwrap().pop_front() {
                Some(Ok(Some(d))) => {
                    buf[..d.len()].copy_from_slice(&d);
                    Ok(Some(d.len()))
                }
                Some(Ok(None)) | None => Ok(None),
                Some(Err(e)) => Err(e),
            }
        }
    }

    const TRY: Duration = Duration::from_millis(1500);

    fn link(io: &Scripted, tries: u32) -> (Link, Arc<FakeClock>) {
        let clock = FakeClock::shared();
        let peer = "192.0.2.7:623".parse().unwrap();
        let link = Link::over(Box::new(io.clone()), peer, TRY, tries, clock.clone());
        (link, clock)
    }

    /// Each try's packet is its try number; the reader accepts `b"yes"` only.
    fn exchange(link: &mut Link) -> Result<u8, IpmiError> {
        let tries = link.tries;
        link.exchange(
            "Get Channel Authentication Capabilities",
            tries,
            |i| Ok(vec![i as u8]),
            |d| match d {
                b"yes" => Verdict::Accept(7),
                _ => Verdict::Skip("not ours"),
            },
        )
    }

    #[test]
    fn a_silent_bmc_gets_every_try_its_full_wait_then_the_link_gives_up() {
        let io = Scripted::default();
        let (mut link, clock) = link(&io, 4);
        let err = exchange(&mut link).unwrap_err();
        assert_eq!(clock.waits(), [Waited::Blocked(TRY); 4]);
        assert_eq!(clock.elapsed(), TRY * 4);
        assert_eq!(*io.sent.lock().unwrap(), [[0], [1], [2], [3]]);
        let IpmiError::Timeout(message) = err else {
            panic!("not a timeout: {err}");
        };
        assert_eq!(
            message,
            "no answer to Get Channel Authentication Capabilities from the BMC at 192.0.2.7:623 (4 tries of 1.5 s)"
        );
    }

    #[test]
    fn a_stray_datagram_does_not_end_the_try_and_a_later_try_is_answered() {
        let io = Scripted::default();
        io.replies.lock().unwrap().extend([
            Ok(Some(b"stale".to_vec())),
            Ok(None),
            Ok(Some(b"yes".to_vec())),
        ]);
        let (mut link, clock) = link(&io, 3);
        assert_eq!(exchange(&mut link).unwrap(), 7);
        // The first try waited out its whole time despite the stray answer; the second
        // was answered at once.
        assert_eq!(clock.waits(), [Waited::Blocked(TRY)]);
        assert_eq!(io.sent.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_refused_port_waits_out_the_try_like_a_lost_answer() {
        let io = Scripted::default();
        let refused = || Err(std::io::Error::from(ErrorKind::ConnectionRefused));
        io.replies.lock().unwrap().extend([refused(), refused()]);
        let (mut link, clock) = link(&io, 2);
        assert!(matches!(exchange(&mut link), Err(IpmiError::Timeout(_))));
        assert_eq!(clock.waits(), [Waited::Slept(TRY), Waited::Slept(TRY)]);
    }
}
