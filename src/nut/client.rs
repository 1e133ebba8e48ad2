//! A connection to upsd: one command line out, one reply line (or a list) back; STARTTLS
//! upgrades the same socket. Every exchange gets one deadline when it starts (the login's
//! for everything up to authentication, else shell_timeout per command and its whole
//! reply), and every read and write on the socket waits only for what is left of it, so
//! a server that trickles bytes cannot stretch an exchange. A connection on which an
//! exchange failed half-way is abandoned: nothing more goes out on it, not even LOGOUT.
//! PASSWORD lines are never logged, and the copies made to send them are zeroised.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use zeroize::Zeroizing;

use crate::nut::proto::{quote, words, NutError};
use crate::runtime::clock::{self, Clock, SharedClock};

/// Longest reply line accepted (upsd's own limit is far lower).
const MAX_LINE: usize = 64 * 1024;

/// The most LOGOUT waits for upsd's goodbye: the call's outcome is already decided.
const LOGOUT_WAIT: Duration = Duration::from_secs(1);

/// How long each part of a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connecting, STARTTLS and authenticating, all together (login_timeout).
    pub login: Duration,
    /// One command with its whole reply (shell_timeout).
    pub command: Duration,
}

/// When something must be over by the call's clock, and the option that set the limit
/// (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    until: clock::Deadline,
    limit: Duration,
    option: &'static str,
}

impl Deadline {
    pub fn after(clock: &dyn Clock, limit: Duration, option: &'static str) -> Self {
        Deadline {
            until: clock::Deadline::after(clock, limit),
            limit,
            option,
        }
    }

    /// The time left; None once the deadline has passed.
    pub fn left(&self, clock: &dyn Clock) -> Option<Duration> {
        self.until.left(clock)
    }

    /// "N s (option)", for messages.
    pub fn describe(&self) -> String {
        format!("{:.0} s ({})", self.limit.as_secs_f64(), self.option)
    }

    fn missed(&self, peer: SocketAddr) -> NutError {
        NutError::Timeout(format!(
            "no complete answer from upsd at {peer} within {}",
            self.describe()
        ))
    }
}

/// The TCP socket with the deadline of the exchange under way: each read and write
/// (TLS records and handshake included) waits only for the time left.
struct Sock {
    tcp: TcpStream,
    deadline: Deadline,
    clock: SharedClock,
}

impl Sock {
    fn left(&self) -> std::io::Result<Duration> {
        self.deadline
            .left(&*self.clock)
            .ok_or_else(|| std::io::Error::from(ErrorKind::TimedOut))
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_read_timeout(Some(left))?;
        self.tcp.read(buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_write_timeout(Some(left))?;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

enum Stream {
    Plain(Sock),
    Tls(Box<StreamOwned<ClientConnection, Sock>>),
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
    fn sock(&mut self) -> &mut Sock {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &mut s.sock,
        }
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
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
    limits: Limits,
    /// From connecting until `logged_in`: the one deadline of the whole login.
    login: Option<Deadline>,
    /// An exchange failed half-way: what upsd sends next answers no known command.
    broken: bool,
    /// The call's clock, which every deadline counts by.
    clock: SharedClock,
}

impl Client {
    /// Connect to the first address that accepts, all within `limits.login`; that
    /// deadline also bounds every exchange until `logged_in`.
    pub fn connect(
        addrs: &[SocketAddr],
        limits: Limits,
        clock: SharedClock,
    ) -> Result<Self, NutError> {
        let login = Deadline::after(&*clock, limits.login, "login_timeout");
        let mut last = None;
        for a in addrs {
            let Some(left) = login.left(&*clock) else {
                break;
            };
            match TcpStream::connect_timeout(a, left) {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(Client {
                        stream: Stream::Plain(Sock {
                            tcp,
                            deadline: login,
                            clock: clock.clone(),
                        }),
                        pending: Vec::new(),
                        peer: *a,
                        limits,
                        login: Some(login),
                        broken: false,
                        clock,
                    });
                }
                Err(e) => last = Some((*a, e)),
            }
        }
        Err(match last {
            Some((a, e)) if !timed_out(&e) => NutError::Io(format!(
                "cannot connect to upsd at {a}: {e} (is upsd running and listening there?)"
            )),
            Some((a, _)) => NutError::Timeout(format!(
                "upsd at {a} did not accept the connection within {}",
                login.describe()
            )),
            None => NutError::Io("no address to connect to".into()),
        })
    }

    /// The login is over: from now on each command has its own shell_timeout.
    pub fn logged_in(&mut self) {
        self.login = None;
    }

    /// The deadline of an exchange starting now.
    fn next_deadline(&self) -> Deadline {
        self.login
            .unwrap_or_else(|| Deadline::after(&*self.clock, self.limits.command, "shell_timeout"))
    }

    /// Run one exchange until `deadline`. Any failure but upsd's own `ERR` may leave a
    /// reply half-read or still to come, which a later command would take for its own:
    /// the connection is abandoned then.
    fn exchange<T>(
        &mut self,
        deadline: Deadline,
        f: impl FnOnce(&mut Self) -> Result<T, NutError>,
    ) -> Result<T, NutError> {
        if self.broken {
            return Err(NutError::Io(format!(
                "the connection to upsd at {} was abandoned after an earlier failure",
                self.peer
            )));
        }
        self.stream.sock().deadline = deadline;
        let result = f(self);
        if matches!(&result, Err(e) if e.code().is_none()) {
            self.broken = true;
        }
        result
    }

    fn send(&mut self, line: &str) -> Result<(), NutError> {
        if line.starts_with("PASSWORD ") {
            log_debug!(2, "NUT > PASSWORD [secret]");
        } else {
            log_debug!(2, "NUT > {line}");
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(line.len() + 1));
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.stream
            .write_all(&bytes)
            .map_err(|e| self.io_error("send to", e))
    }

    fn io_error(&mut self, what: &str, e: std::io::Error) -> NutError {
        if timed_out(&e) {
            return self.stream.sock().deadline.missed(self.peer);
        }
        NutError::Io(format!("cannot {what} upsd at {}: {e}", self.peer))
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

    /// Send a command and read its one-line reply, within the exchange's deadline;
    /// `ERR ...` becomes an error that names `context`.
    fn ask(&mut self, line: &str, context: &str) -> Result<String, NutError> {
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

    /// One command and its one-line reply, as one exchange.
    pub fn request(&mut self, line: &str, context: &str) -> Result<String, NutError> {
        self.exchange(self.next_deadline(), |c| c.ask(line, context))
    }

    /// `LIST <what>`: the words of every line between BEGIN and END, all within one
    /// exchange's deadline.
    pub fn list(&mut self, what: &str, context: &str) -> Result<Vec<Vec<String>>, NutError> {
        self.exchange(self.next_deadline(), |c| c.read_list(what, context))
    }

    fn read_list(&mut self, what: &str, context: &str) -> Result<Vec<Vec<String>>, NutError> {
        let begin = self.ask(&format!("LIST {what}"), context)?;
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
            let quoted = Zeroizing::new(quote(password));
            let mut line = Zeroizing::new(String::with_capacity(quoted.len() + 9));
            line.push_str("PASSWORD ");
            line.push_str(&quoted);
            self.request(&line, "sending the password")?;
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
        let Stream::Plain(sock) = self.stream else {
            return Err(NutError::Tls(
                "the connection is already in TLS mode".into(),
            ));
        };
        let server = ServerName::try_from(name.to_string()).map_err(|_| {
            NutError::Tls(format!("'{name}' cannot be checked against a certificate"))
        })?;
        let conn = ClientConnection::new(config, server)
            .map_err(|e| NutError::Tls(format!("cannot start TLS: {e}")))?;
        // The socket keeps the STARTTLS exchange's deadline for the handshake.
        let mut tls = StreamOwned::new(conn, sock);
        // Drive the handshake now, so a certificate that does not verify fails here.
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).map_err(|e| {
                if timed_out(&e) {
                    tls.sock.deadline.missed(self.peer)
                } else {
                    NutError::Tls(format!("TLS with upsd at {} failed: {e}", self.peer))
                }
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
            limits: self.limits,
            login: self.login,
            broken: false,
            clock: self.clock,
        })
    }

    /// `LOGOUT`, waiting briefly for the goodbye; errors no longer matter. Not on an
    /// abandoned connection: upsd may still owe the failed command's answer, and
    /// waiting for it again would only stretch the call past its limits.
    pub fn logout(&mut self) {
        if self.broken {
            log_debug!(2, "NUT: no LOGOUT on an abandoned connection");
            return;
        }
        let wait = Deadline::after(&*self.clock, self.limits.command.min(LOGOUT_WAIT), "logout");
        let _ = self.exchange(wait, |c| c.ask("LOGOUT", "logging out"));
    }

    /// The call's clock, for waits between exchanges (command tracking).
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}
