//! Telnet transport (layer 2) on the `telnet` crate over a TcpStream: minimal option
//! negotiation (the server may echo and suppress go-ahead; everything else is refused),
//! binary-safe data (IAC is escaped on the way out and unescaped on the way in), IPv4 and
//! IPv6, every wait bounded by the caller's deadline. It knows nothing of fence-agents.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

use ::telnet::{Action, Event, Telnet, TelnetOption};

use crate::runtime::net;
use crate::runtime::stream::{remaining, ByteStream, StreamError};

/// Why a telnet connection could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelnetError {
    Connect(String),
    TimedOut(String),
}

impl std::fmt::Display for TelnetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TelnetError::Connect(m) => f.write_str(m),
            TelnetError::TimedOut(m) => write!(f, "timed out: {m}"),
        }
    }
}

impl std::error::Error for TelnetError {}

/// An open telnet connection as a byte stream.
pub struct TelnetStream {
    conn: Telnet,
    /// Requests already answered, so a server repeating one gets no second answer (the
    /// RFC 854 rule against negotiation loops).
    answered: HashSet<(u8, u8)>,
    /// Data of the last event that did not fit the caller's buffer.
    pending: Vec<u8>,
    /// The connection's socket, to bound writes (the crate's stream has no write timeout).
    socket: TcpStream,
}

/// Connect to the first address of `addrs` that answers before `deadline`.
pub fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TelnetStream, TelnetError> {
    let mut last = String::from("no address to connect to");
    for addr in addrs {
        let Some(left) = remaining(deadline) else {
            return Err(TelnetError::TimedOut(format!("connecting to {addr}")));
        };
        match TcpStream::connect_timeout(addr, left) {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                let socket = tcp
                    .try_clone()
                    .map_err(|e| TelnetError::Connect(format!("{addr}: {e}")))?;
                return Ok(TelnetStream {
                    conn: Telnet::from_stream(Box::new(tcp), 4096),
                    answered: HashSet::new(),
                    pending: Vec::new(),
                    socket,
                });
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(TelnetError::Connect(last))
}

/// Our answer to a server's request: it may echo and suppress go-ahead (what a line
/// device needs); it may not make us do anything (no terminal type, window size, ...).
fn answer(action: &Action, option: TelnetOption) -> Option<Action> {
    let wanted = matches!(option, TelnetOption::Echo | TelnetOption::SuppressGoAhead);
    match action {
        Action::Will if wanted => Some(Action::Do),
        Action::Will => Some(Action::Dont),
        Action::Do if option == TelnetOption::SuppressGoAhead => Some(Action::Will),
        Action::Do => Some(Action::Wont),
        // Wont/Dont need no answer: both sides are then at the default (off).
        _ => None,
    }
}

fn action_code(a: &Action) -> u8 {
    match a {
        Action::Will => 251,
        Action::Wont => 252,
        Action::Do => 253,
        Action::Dont => 254,
    }
}

impl TelnetStream {
    fn negotiate(&mut self, action: &Action, option: TelnetOption) -> Result<(), StreamError> {
        let Some(reply) = answer(action, option) else {
            return Ok(());
        };
        if !self
            .answered
            .insert((action_code(action), option.as_byte()))
        {
            return Ok(());
        }
        self.conn
            .negotiate(&reply, option)
            .map_err(|e| StreamError::Io(format!("telnet: {e:?}")))
    }
}

impl ByteStream for TelnetStream {
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, StreamError> {
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        loop {
            let left = remaining(deadline).ok_or(StreamError::TimedOut { read: Vec::new() })?;
            net::ack_at_once(&self.socket);
            let event = self
                .conn
                .read_timeout(left)
                .map_err(|e| StreamError::Io(format!("telnet: {e}")))?;
            match event {
                Event::Data(data) if !data.is_empty() => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    self.pending.extend_from_slice(&data[n..]);
                    return Ok(n);
                }
                Event::Negotiation(action, option) => self.negotiate(&action, option)?,
                Event::TimedOut => return Err(StreamError::TimedOut { read: Vec::new() }),
                // A read of nothing: the peer closed the connection.
                Event::Error(_) => return Ok(0),
                _ => {}
            }
        }
    }

    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), StreamError> {
        // A device that stopped reading fills the send buffer; the write then gives up at
        // the deadline instead of blocking for good. `write` escapes IAC bytes.
        let left = remaining(deadline).ok_or(StreamError::TimedOut { read: Vec::new() })?;
        let _ = self.socket.set_write_timeout(Some(left));
        match self.conn.write(data) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(StreamError::TimedOut { read: Vec::new() })
            }
            Err(e) => Err(StreamError::Io(format!("telnet: {e}"))),
        }
    }

    fn close(&mut self) {
        // Telnet has no logout of its own; the device sees the connection end.
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    const IAC: u8 = 255;
    const WILL: u8 = 251;
    const DO: u8 = 253;
    const WONT: u8 = 252;

    /// An in-process server: sends `script`, then returns what the client sent back
    /// within `wanted` bytes or half a second of quiet.
    fn server(script: Vec<u8>, wanted: usize) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(&script).unwrap();
            conn.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < wanted {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            got
        });
        (addr, handle)
    }

    #[test]
    fn negotiates_once_and_carries_iac_both_ways() {
        let mut script = vec![IAC, WILL, 1, IAC, DO, 24];
        script.extend_from_slice(&[b'a', IAC, IAC, b'b']);
        script.extend_from_slice(&[IAC, WILL, 1]); // repeated: must not be answered again
        script.extend_from_slice(b"end");
        let (addr, handle) = server(script, 10);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut t = connect(&[addr], deadline).unwrap();
        let got = t
            .read_until(&mut |b| b.ends_with(b"end"), deadline)
            .unwrap();
        assert_eq!(got, [b'a', IAC, b'b', b'e', b'n', b'd']);
        t.write_all(&[b'x', IAC, b'y'], deadline).unwrap();
        let answers = handle.join().unwrap();
        assert_eq!(answers, [IAC, DO, 1, IAC, WONT, 24, b'x', IAC, IAC, b'y']);
    }

    #[test]
    fn a_silent_server_times_out_and_a_closing_one_reads_as_closed() {
        let (addr, handle) = server(b"login: ".to_vec(), 1);
        let deadline = Instant::now() + Duration::from_millis(300);
        let mut t = connect(&[addr], Instant::now() + Duration::from_secs(5)).unwrap();
        match t.read_until(&mut |b| b.ends_with(b"Password: "), deadline) {
            Err(StreamError::TimedOut { read }) => assert_eq!(read, b"login: "),
            other => panic!("{other:?}"),
        }
        t.close();
        handle.join().unwrap();
        let (addr, handle) = server(b"bye".to_vec(), 0);
        let mut t = connect(&[addr], Instant::now() + Duration::from_secs(5)).unwrap();
        handle.join().unwrap(); // the server has closed its end
        let far = Instant::now() + Duration::from_secs(5);
        match t.read_until(&mut |_| false, far) {
            Err(StreamError::Closed { read }) => assert_eq!(read, b"bye"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn echo_and_go_ahead_suppression_are_accepted_the_rest_refused() {
        assert!(matches!(
            answer(&Action::Will, TelnetOption::Echo),
            Some(Action::Do)
        ));
        assert!(matches!(
            answer(&Action::Will, TelnetOption::SuppressGoAhead),
            Some(Action::Do)
        ));
        assert!(matches!(
            answer(&Action::Do, TelnetOption::SuppressGoAhead),
            Some(Action::Will)
        ));
        assert!(matches!(
            answer(&Action::Do, TelnetOption::TTYPE),
            Some(Action::Wont)
        ));
        assert!(matches!(
            answer(&Action::Do, TelnetOption::Echo),
            Some(Action::Wont)
        ));
        assert!(matches!(
            answer(&Action::Will, TelnetOption::NAWS),
            Some(Action::Dont)
        ));
        assert!(answer(&Action::Wont, TelnetOption::Echo).is_none());
    }
}
