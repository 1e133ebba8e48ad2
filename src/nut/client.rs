//! A connection to upsd: one command line out, one reply line (or a list) back, each
//! within the configured time; STARTTLS upgrades the same socket. PASSWORD lines are
//! never logged.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::nut::proto::{quote, words, NutError};

/// Longest reply line accepted (upsd's own limit is far lower).
const MAX_LINE: usize = 64 * 1024;

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(buf).and_then(|()| s.flush()),
        }
    }
}

/// The state of a tracked command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracked {
    Pending,
    Success,
    /// `ERR <code>`: the driver failed or could not tell.
    Failed(String),
}

pub struct Client {
    stream: Stream,
    /// Bytes read past the last line.
    pending: Vec<u8>,
    peer: SocketAddr,
    timeout: Duration,
}

impl Client {
    /// Connect to the first address that accepts; `timeout` bounds the connect and
    /// every reply.
    pub fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<Self, NutError> {
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(a, timeout) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    s.set_read_timeout(Some(timeout))
                        .and_then(|()| s.set_write_timeout(Some(timeout)))
                        .map_err(|e| {
                            NutError::Io(format!("cannot set up the connection to {a}: {e}"))
                        })?;
                    return Ok(Client {
                        stream: Stream::Plain(s),
                        pending: Vec::new(),
                        peer: *a,
                        timeout,
                    });
                }
                Err(e) => last = Some((*a, e)),
            }
        }
        Err(match last {
            Some((a, e)) if e.kind() == ErrorKind::TimedOut => NutError::Timeout(format!(
                "no answer from upsd at {a} within {:.0} s",
                timeout.as_secs_f64()
            )),
            Some((a, e)) => NutError::Io(format!(
                "cannot connect to upsd at {a}: {e} (is upsd running and listening there?)"
            )),
            None => NutError::Io("no address to connect to".into()),
        })
    }

    fn send(&mut self, line: &str) -> Result<(), NutError> {
        if line.starts_with("PASSWORD ") {
            log_debug!(2, "NUT > PASSWORD [secret]");
        } else {
            log_debug!(2, "NUT > {line}");
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.stream
            .write_all(&bytes)
            .map_err(|e| self.io_error("send to", e))
    }

    fn io_error(&self, what: &str, e: std::io::Error) -> NutError {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => NutError::Timeout(format!(
                "no answer from upsd at {} within {:.0} s",
                self.peer,
                self.timeout.as_secs_f64()
            )),
            _ => NutError::Io(format!("cannot {what} upsd at {}: {e}", self.peer)),
        }
    }

    fn read_line(&mut self) -> Result<String, NutError> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let text = String::from_utf8(line)
                    .map_err(|_| NutError::Protocol("upsd sent a line that is not UTF-8".into()))?;
                log_debug!(3, "NUT < {text}");
                return Ok(text);
            }
            if self.pending.len() > MAX_LINE {
                return Err(NutError::Protocol("upsd sent an over-long line".into()));
            }
            let mut buf = [0u8; 4096];
            let n = match self.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read from", e)),
            };
            if n == 0 {
                return Err(NutError::Io(format!(
                    "upsd at {} closed the connection before answering",
                    self.peer
                )));
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// Send a command and read its one-line reply; `ERR ...` becomes an error that
    /// names `context`.
    pub fn request(&mut self, line: &str, context: &str) -> Result<String, NutError> {
        self.send(line)?;
        let reply = self.read_line()?;
        if let Some(rest) = reply.strip_prefix("ERR ") {
            let code = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(NutError::Server {
                code,
                context: context.to_string(),
            });
        }
        Ok(reply)
    }

    /// `LIST <what>`: the words of every line between BEGIN and END.
    pub fn list(&mut self, what: &str, context: &str) -> Result<Vec<Vec<String>>, NutError> {
        let begin = self.request(&format!("LIST {what}"), context)?;
        if begin != format!("BEGIN LIST {what}") {
            return Err(NutError::Protocol(format!(
                "upsd answered LIST {what} with '{begin}'"
            )));
        }
        let end = format!("END LIST {what}");
        let mut rows = Vec::new();
        loop {
            let line = self.read_line()?;
            if line == end {
                return Ok(rows);
            }
            rows.push(words(&line).ok_or_else(|| {
                NutError::Protocol(format!("upsd sent an unreadable list line '{line}'"))
            })?);
        }
    }

    /// `GET VAR`: the variable's value.
    pub fn get_var(&mut self, ups: &str, var: &str) -> Result<String, NutError> {
        let context = format!("reading {var} of {ups}");
        let reply = self.request(&format!("GET VAR {} {}", quote(ups), quote(var)), &context)?;
        match words(&reply).as_deref() {
            Some([v, u, n, value]) if v == "VAR" && u == ups && n == var => Ok(value.clone()),
            _ => Err(NutError::Protocol(format!(
                "upsd answered GET VAR with '{reply}'"
            ))),
        }
    }

    /// `USERNAME` and `PASSWORD` (upsd checks them only when a command needs them).
    pub fn authenticate(&mut self, user: &str, password: &str) -> Result<(), NutError> {
        self.request(&format!("USERNAME {}", quote(user)), "sending the username")?;
        if !password.is_empty() {
            self.request(
                &format!("PASSWORD {}", quote(password)),
                "sending the password",
            )?;
        }
        Ok(())
    }

    /// Ask for command tracking; false when upsd does not have it (before NUT 2.8.0).
    pub fn enable_tracking(&mut self) -> Result<bool, NutError> {
        match self.request("SET TRACKING ON", "enabling command tracking") {
            Ok(_) => Ok(true),
            Err(NutError::Server { code, .. }) => {
                log_debug!(2, "NUT: no command tracking on this upsd (ERR {code})");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `INSTCMD`: the tracking id when upsd gives one.
    pub fn instcmd(&mut self, ups: &str, cmd: &str) -> Result<Option<String>, NutError> {
        let context = format!("running {cmd} on {ups}");
        let reply = self.request(&format!("INSTCMD {} {}", quote(ups), quote(cmd)), &context)?;
        match reply.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["OK"] => Ok(None),
            ["OK", "TRACKING", id] => Ok(Some(id.to_string())),
            _ => Err(NutError::Protocol(format!(
                "upsd answered INSTCMD with '{reply}'"
            ))),
        }
    }

    /// `GET TRACKING <id>`.
    pub fn tracking(&mut self, id: &str) -> Result<Tracked, NutError> {
        match self.request(
            &format!("GET TRACKING {}", quote(id)),
            "reading a command's result",
        ) {
            Ok(r) if r == "PENDING" => Ok(Tracked::Pending),
            Ok(r) if r == "SUCCESS" => Ok(Tracked::Success),
            Ok(r) => Err(NutError::Protocol(format!(
                "upsd answered GET TRACKING with '{r}'"
            ))),
            Err(NutError::Server { code, .. }) => Ok(Tracked::Failed(code)),
            Err(e) => Err(e),
        }
    }

    /// STARTTLS, then the TLS handshake on the same socket, verified as `config` says.
    pub fn start_tls(mut self, config: Arc<ClientConfig>, name: &str) -> Result<Self, NutError> {
        self.request("STARTTLS", "starting TLS")?;
        let Stream::Plain(tcp) = self.stream else {
            return Err(NutError::Tls(
                "the connection is already in TLS mode".into(),
            ));
        };
        let server = ServerName::try_from(name.to_string()).map_err(|_| {
            NutError::Tls(format!("'{name}' cannot be checked against a certificate"))
        })?;
        let conn = ClientConnection::new(config, server)
            .map_err(|e| NutError::Tls(format!("cannot start TLS: {e}")))?;
        let mut tls = StreamOwned::new(conn, tcp);
        // Drive the handshake now, so a certificate that does not verify fails here.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).map_err(|e| {
                NutError::Tls(format!("TLS with upsd at {} failed: {e}", self.peer))
            })?;
        }
        log_debug!(
            2,
            "NUT: TLS established ({:?})",
            tls.conn.protocol_version()
        );
        Ok(Client {
            stream: Stream::Tls(Box::new(tls)),
            pending: Vec::new(),
            peer: self.peer,
            timeout: self.timeout,
        })
    }

    /// `LOGOUT`; errors no longer matter.
    pub fn logout(&mut self) {
        let _ = self.request("LOGOUT", "logging out");
    }
}
