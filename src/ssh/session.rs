//! An SSH client session on libssh2 (the `ssh2` crate): connect, negotiate (modern
//! algorithms first, the legacy ones old devices need after them), check the host key
//! against fencebox's known-hosts file, log in, and open a shell or run a command.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh2::{Channel, HostKeyType, KeyboardInteractivePrompt, MethodType, Prompt, Session};

use super::known_hosts::{self, HostKey, Verdict};
use super::options::{AlgorithmList, HostKeyPolicy};
use super::SshError;
use super::{key, sign};
use crate::runtime::net;
use crate::runtime::stream::{remaining, ByteStream, StreamError};

/// Offered in this order: what OpenSSH 9 prefers first, then what old PDUs and BMCs
/// speak (SHA-1 key exchange and signatures, DSA, CBC ciphers, hmac-sha1/md5). Names this
/// libssh2 build does not have are left out when the list is set.
const KEX: &[&str] = &[
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group1-sha1",
];
const HOST_KEYS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-dss",
];
const CIPHERS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
    "aes256-cbc",
    "aes192-cbc",
    "aes128-cbc",
    "3des-cbc",
];
const MACS: &[&str] = &[
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-md5",
];

/// How to log in.
pub enum Login {
    /// Password, or keyboard-interactive answered with it where the server offers only that.
    Password(String),
    /// A private key file, with the passphrase that unlocks it, if any.
    Key {
        file: PathBuf,
        passphrase: Option<String>,
    },
}

impl Drop for Login {
    /// The secrets do not outlive the login in freed memory.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        match self {
            Login::Password(p)
            | Login::Key {
                passphrase: Some(p),
                ..
            } => p.zeroize(),
            Login::Key {
                passphrase: None, ..
            } => {}
        }
    }
}

/// `ssh_options` algorithm changes (`None`: fencebox's defaults above).
#[derive(Default, Clone)]
pub struct Algorithms {
    pub kex: Option<AlgorithmList>,
    pub host_keys: Option<AlgorithmList>,
    pub ciphers: Option<AlgorithmList>,
    pub macs: Option<AlgorithmList>,
}

/// Everything a connection needs; the caller resolved the address.
pub struct Target {
    pub addrs: Vec<SocketAddr>,
    /// The host as the user named it, for the known-hosts file and messages.
    pub host: String,
    pub port: u16,
    pub username: String,
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    pub algorithms: Algorithms,
}

/// A logged-in session; open a shell or run commands on it.
pub struct SshSession {
    session: Session,
    /// The session's socket (a second descriptor of it), to have its data acknowledged
    /// at once before every wait (runtime::net::ack_at_once).
    tcp: Arc<TcpStream>,
}

/// An open channel (a shell or a command) as a byte stream.
pub struct SshStream {
    session: Session,
    channel: Channel,
    tcp: Arc<TcpStream>,
}

/// Log in and open a shell (or `command` on a terminal): [`super::OpenShell`] on libssh2.
pub fn open_shell(
    target: &Target,
    login: &Login,
    command: Option<&str>,
    deadline: Instant,
) -> Result<Box<dyn ByteStream + Send>, SshError> {
    let stream = connect(target, login, deadline)?.shell(command, deadline)?;
    Ok(Box::new(stream))
}

/// Connect, negotiate, check the host key and log in, all before `deadline`.
pub fn connect(target: &Target, login: &Login, deadline: Instant) -> Result<SshSession, SshError> {
    let tcp = tcp_connect(&target.addrs, deadline)?;
    let own = Arc::new(
        tcp.try_clone()
            .map_err(|e| SshError::Connect(format!("socket: {e}")))?,
    );
    let mut session = Session::new().map_err(|e| SshError::Connect(e.to_string()))?;
    session.set_tcp_stream(tcp);
    set_timeout(&session, &own, deadline)?;
    prefer_algorithms(&session, &target.algorithms)?;
    session.handshake().map_err(|e| negotiation_error(&e))?;
    check_host_key(&session, target)?;
    set_timeout(&session, &own, deadline)?;
    authenticate(&session, &target.username, login)?;
    Ok(SshSession { session, tcp: own })
}

fn tcp_connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, SshError> {
    let mut last = String::from("no address to connect to");
    for addr in addrs {
        let Some(left) = remaining(deadline) else {
            return Err(SshError::TimedOut(format!("connecting to {addr}")));
        };
        match TcpStream::connect_timeout(addr, left) {
            Ok(s) => {
                // Keystrokes go out at once; prompts are small.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(SshError::Connect(last))
}

/// libssh2's "try again" answer of a call on a non-blocking session.
const LIBSSH2_ERROR_EAGAIN: std::os::raw::c_int = -37;

/// libssh2's blocking calls give up after the session timeout; it is set to what is left
/// of the caller's deadline before each wait, and the server's data is acknowledged at once.
fn set_timeout(session: &Session, tcp: &TcpStream, deadline: Instant) -> Result<(), SshError> {
    before_wait(session, tcp, deadline).ok_or_else(|| SshError::TimedOut("logging in".into()))
}

/// Before a blocking libssh2 call: the session timeout set to what is left of `deadline`
/// (None when nothing is), and the server's data acknowledged at once.
fn before_wait(session: &Session, tcp: &TcpStream, deadline: Instant) -> Option<()> {
    net::ack_at_once(tcp);
    let left = remaining(deadline)?;
    session.set_timeout(u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1));
    Some(())
}

fn prefer_algorithms(session: &Session, algs: &Algorithms) -> Result<(), SshError> {
    let sets = [
        (MethodType::Kex, "KexAlgorithms", KEX, &algs.kex),
        (
            MethodType::HostKey,
            "HostKeyAlgorithms",
            HOST_KEYS,
            &algs.host_keys,
        ),
        (MethodType::CryptCs, "Ciphers", CIPHERS, &algs.ciphers),
        (MethodType::CryptSc, "Ciphers", CIPHERS, &algs.ciphers),
        (MethodType::MacCs, "MACs", MACS, &algs.macs),
        (MethodType::MacSc, "MACs", MACS, &algs.macs),
    ];
    for (kind, name, defaults, change) in sets {
        let supported = session.supported_algs(kind).unwrap_or_default();
        let wanted = match change {
            Some(list) => list.apply(defaults),
            None => defaults.iter().map(|d| d.to_string()).collect(),
        };
        let unknown: Vec<&str> = wanted
            .iter()
            .filter(|w| !supported.contains(&w.as_str()) && !defaults.contains(&w.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(SshError::Negotiation(format!(
                "{name}: this client does not support {}",
                unknown.join(", ")
            )));
        }
        let usable: Vec<&str> = wanted
            .iter()
            .map(String::as_str)
            .filter(|w| supported.contains(w))
            .collect();
        if usable.is_empty() {
            return Err(SshError::Negotiation(format!(
                "{name}: no algorithm left to offer"
            )));
        }
        session
            .method_pref(kind, &usable.join(","))
            .map_err(|e| SshError::Negotiation(format!("{name}: {}", e.message())))?;
    }
    Ok(())
}

fn negotiation_error(e: &ssh2::Error) -> SshError {
    if e.code() == ssh2::ErrorCode::Session(-9) {
        return SshError::TimedOut("the SSH handshake".into());
    }
    SshError::Negotiation(format!(
        "SSH handshake failed: {} (the device may offer only algorithms this client does not; \
         see ssh_options)",
        e.message()
    ))
}

fn host_key_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

fn check_host_key(session: &Session, t: &Target) -> Result<(), SshError> {
    if t.host_key_policy == HostKeyPolicy::AcceptAny {
        return Ok(());
    }
    let (blob, kind) = session
        .host_key()
        .ok_or_else(|| SshError::Negotiation("the server sent no host key".into()))?;
    let key = HostKey::new(host_key_name(kind), blob);
    let file_error = |e: std::io::Error| {
        SshError::HostKey(format!("known-hosts file {}: {e}", t.known_hosts.display()))
    };
    match known_hosts::check(&t.known_hosts, &t.host, t.port, &key).map_err(file_error)? {
        Verdict::Known => Ok(()),
        Verdict::Changed { line } => Err(SshError::HostKey(known_hosts::changed_message(
            &t.known_hosts,
            line,
            &t.host,
            t.port,
        ))),
        Verdict::Unknown if t.host_key_policy == HostKeyPolicy::Strict => {
            Err(SshError::HostKey(format!(
                "the host key of {} is not in {} and StrictHostKeyChecking=yes",
                known_hosts::host_pattern(&t.host, t.port),
                t.known_hosts.display()
            )))
        }
        Verdict::Unknown => {
            known_hosts::record(&t.known_hosts, &t.host, t.port, &key).map_err(file_error)
        }
    }
}

/// Answers every prompt the server asks not to echo with the password (BMCs ask
/// "Password:", some "password for user:"); echoed prompts get an empty answer.
struct PasswordPrompter<'a>(&'a str);

impl KeyboardInteractivePrompt for PasswordPrompter<'_> {
    fn prompt<'b>(&mut self, _user: &str, _instr: &str, prompts: &[Prompt<'b>]) -> Vec<String> {
        prompts
            .iter()
            .map(|p| {
                if p.echo {
                    String::new()
                } else {
                    self.0.to_string()
                }
            })
            .collect()
    }
}

fn authenticate(session: &Session, user: &str, login: &Login) -> Result<(), SshError> {
    let refused = |how: &str, e: ssh2::Error| {
        if e.code() == ssh2::ErrorCode::Session(-9) {
            return SshError::TimedOut(format!("{how} login"));
        }
        SshError::AuthFailed(format!(
            "{how} login of user '{user}' refused: {}",
            e.message()
        ))
    };
    match login {
        Login::Key { file, passphrase } => {
            let passphrase = passphrase.as_deref();
            // OpenSSH-format keys are read here first (ssh::key): an unencrypted Ed25519
            // one is signed with here, another gives libssh2 its public half.
            let text = std::fs::read_to_string(file).ok();
            let tried = match text.as_deref().map(|t| (t, key::read(t))) {
                Some((_, key::KeyFile::Ed25519 { blob, pair })) => {
                    sign::ed25519_login(session, user, &blob, &pair)
                }
                Some((text, key::KeyFile::Public(public))) => {
                    session.userauth_pubkey_memory(user, Some(&public), text, passphrase)
                }
                _ => session.userauth_pubkey_file(user, None, file, passphrase),
            };
            tried.map_err(|e| refused(&format!("public-key ({})", file.display()), e))?;
        }
        Login::Password(password) => {
            let methods = session
                .auth_methods(user)
                .map_err(|e| refused("password", e))?;
            if session.authenticated() {
                return Ok(()); // the server asked for nothing ("none" accepted)
            }
            if methods.split(',').any(|m| m == "password") {
                session
                    .userauth_password(user, password)
                    .map_err(|e| refused("password", e))?;
            } else if methods.split(',').any(|m| m == "keyboard-interactive") {
                session
                    .userauth_keyboard_interactive(user, &mut PasswordPrompter(password))
                    .map_err(|e| refused("keyboard-interactive", e))?;
            } else {
                return Err(SshError::AuthFailed(format!(
                    "the device accepts neither password nor keyboard-interactive login \
                     (it offers: {methods})"
                )));
            }
        }
    }
    if !session.authenticated() {
        return Err(SshError::AuthFailed(format!(
            "login of user '{user}' refused"
        )));
    }
    Ok(())
}

impl SshSession {
    /// A login shell on a pseudo-terminal, or `command` run on one (fence_virsh's `-t`).
    pub fn shell(&self, command: Option<&str>, deadline: Instant) -> Result<SshStream, SshError> {
        let mut channel = self.channel(deadline)?;
        // Wide, so that devices do not wrap the lines fencebox parses.
        net::ack_at_once(&self.tcp);
        channel
            .request_pty("vt100", None, Some((200, 24, 0, 0)))
            .map_err(|e| SshError::Channel(format!("pty refused: {}", e.message())))?;
        net::ack_at_once(&self.tcp);
        match command {
            Some(c) => channel.exec(c),
            None => channel.shell(),
        }
        .map_err(|e| SshError::Channel(format!("shell refused: {}", e.message())))?;
        Ok(SshStream {
            session: self.session.clone(),
            tcp: Arc::clone(&self.tcp),
            channel,
        })
    }

    /// `command` without a terminal (command devices); stderr is merged into the stream.
    pub fn exec(&self, command: &str, deadline: Instant) -> Result<SshStream, SshError> {
        let mut channel = self.channel(deadline)?;
        channel
            .handle_extended_data(ssh2::ExtendedData::Merge)
            .map_err(|e| SshError::Channel(e.message().to_string()))?;
        channel
            .exec(command)
            .map_err(|e| SshError::Channel(format!("command refused: {}", e.message())))?;
        Ok(SshStream {
            session: self.session.clone(),
            tcp: Arc::clone(&self.tcp),
            channel,
        })
    }

    /// A session channel. OpenSSH answers the request with two messages in a row (its
    /// host keys, then the confirmation); with Nagle on, the second waits for our
    /// acknowledgement of the first, which the kernel delays by 40 ms when it is asked
    /// before our request went out. So the request is sent without blocking and the
    /// acknowledgement asked for after it, before the wait (src/runtime/net.rs).
    fn channel(&self, deadline: Instant) -> Result<Channel, SshError> {
        let fail =
            |e: ssh2::Error| SshError::Channel(format!("no session channel: {}", e.message()));
        self.session.set_blocking(false);
        let opened = loop {
            match self.session.channel_session() {
                Err(e) if e.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_EAGAIN) => {
                    if let Err(e) = self.wait_for_server(deadline) {
                        break Err(e);
                    }
                }
                other => break other.map_err(fail),
            }
        };
        self.session.set_blocking(true);
        set_timeout(&self.session, &self.tcp, deadline)?;
        opened
    }

    /// Wait, up to `deadline`, until the server has sent something (libssh2 keeps its
    /// socket non-blocking: it is made blocking for the wait only).
    fn wait_for_server(&self, deadline: Instant) -> Result<(), SshError> {
        let timed_out = || SshError::TimedOut("opening a session channel".into());
        let left = remaining(deadline).ok_or_else(timed_out)?;
        if self.session.block_directions() == ssh2::BlockDirections::Outbound {
            // Our own request is still going out: nothing to read yet.
            std::thread::sleep(left.min(Duration::from_millis(1)));
            return Ok(());
        }
        net::ack_at_once(&self.tcp);
        let waited = self
            .tcp
            .set_nonblocking(false)
            .and_then(|()| self.tcp.set_read_timeout(Some(left)))
            .and_then(|()| self.tcp.peek(&mut [0u8; 1]));
        let restored = self.tcp.set_nonblocking(true);
        match waited {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(timed_out())
            }
            // A closed connection: the next libssh2 call says so.
            _ => restored.map_err(|e| SshError::Channel(format!("socket: {e}"))),
        }
    }
}

impl SshStream {
    /// The command's exit status, once the stream has been read to its end. The server
    /// may send the status after the end of the output (OpenSSH sends EOF first), so this
    /// waits, up to `deadline`, for the channel to close; libssh2 would otherwise say 0
    /// for a status it has not yet received. `None` when the status never came.
    pub fn exit_status(&mut self, deadline: Instant) -> Option<i32> {
        stream_timeout(&self.session, &self.tcp, deadline).ok()?;
        self.channel.wait_close().ok()?;
        self.channel.exit_status().ok()
    }
}

fn stream_timeout(
    session: &Session,
    tcp: &TcpStream,
    deadline: Instant,
) -> Result<(), StreamError> {
    before_wait(session, tcp, deadline).ok_or(StreamError::TimedOut { read: Vec::new() })
}

fn io_error(e: std::io::Error) -> StreamError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            StreamError::TimedOut { read: Vec::new() }
        }
        _ => StreamError::Io(format!("ssh: {e}")),
    }
}

impl ByteStream for SshStream {
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize, StreamError> {
        stream_timeout(&self.session, &self.tcp, deadline)?;
        self.channel.read(buf).map_err(io_error)
    }

    fn write_all(&mut self, data: &[u8], deadline: Instant) -> Result<(), StreamError> {
        stream_timeout(&self.session, &self.tcp, deadline)?;
        self.channel.write_all(data).map_err(io_error)?;
        self.channel.flush().map_err(io_error)
    }

    fn close(&mut self) {
        // A device that stopped answering must not hold the caller here.
        self.session.set_timeout(1000);
        let _ = self.channel.send_eof();
        let _ = self.channel.close();
        let _ = self.session.disconnect(None, "fencebox done", None);
    }
}

/// How long `close` may take at most, for callers that budget it.
pub const CLOSE_BUDGET: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A "device" that accepts the connection, sends `banner` and then nothing, holding
    /// the connection open for `hold`.
    fn mute_server(banner: &'static [u8], hold: Duration) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                let _ = conn.write_all(banner);
                std::thread::sleep(hold);
            }
        });
        Target {
            addrs: vec![addr],
            host: "127.0.0.1".into(),
            port: addr.port(),
            username: "nobody".into(),
            known_hosts: std::env::temp_dir().join("fencebox-never-written"),
            host_key_policy: HostKeyPolicy::Strict,
            algorithms: Algorithms::default(),
        }
    }

    #[test]
    fn a_server_that_never_speaks_ends_at_the_deadline() {
        let t = mute_server(b"", Duration::from_secs(5));
        let started = Instant::now();
        let login = Login::Password("x".into());
        let err = connect(&t, &login, started + Duration::from_millis(500)).err();
        let took = started.elapsed();
        assert!(matches!(err, Some(SshError::TimedOut(_))), "{err:?}");
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn a_server_that_is_not_ssh_is_a_handshake_error() {
        let t = mute_server(b"220 smtp.example ESMTP\r\n", Duration::from_millis(50));
        let login = Login::Password("x".into());
        let err = connect(&t, &login, Instant::now() + Duration::from_secs(3)).err();
        // It hangs up after its line: libssh2 never got an SSH banner.
        assert!(
            matches!(&err, Some(SshError::Negotiation(m)) if m.contains("handshake failed")),
            "{err:?}"
        );
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut t = mute_server(b"", Duration::ZERO);
        t.addrs = vec![SocketAddr::from(([127, 0, 0, 1], port))];
        let login = Login::Password("x".into());
        let err = connect(&t, &login, Instant::now() + Duration::from_secs(3)).err();
        assert!(
            matches!(&err, Some(SshError::Connect(m)) if m.contains("cannot connect")),
            "{err:?}"
        );
    }

    /// .cargo/config.toml turns libssh2's legacy algorithms back on at build time; without
    /// it old devices are unreachable, so a build that lost the defines fails here.
    #[test]
    fn this_libssh2_build_has_the_legacy_algorithms() {
        let session = Session::new().unwrap();
        for (kind, names) in [
            (
                MethodType::Kex,
                &["diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"][..],
            ),
            (MethodType::HostKey, &["ssh-rsa", "ssh-dss"][..]),
            (MethodType::CryptCs, &["aes128-cbc", "3des-cbc"][..]),
            (MethodType::MacCs, &["hmac-sha1", "hmac-md5"][..]),
        ] {
            let have = session.supported_algs(kind).unwrap();
            for name in names {
                assert!(have.contains(name), "{name} missing from {have:?}");
            }
        }
    }

    #[test]
    fn every_default_is_supported_and_modern_ones_come_first() {
        let session = Session::new().unwrap();
        for (kind, defaults) in [
            (MethodType::Kex, KEX),
            (MethodType::HostKey, HOST_KEYS),
            (MethodType::CryptCs, CIPHERS),
            (MethodType::MacCs, MACS),
        ] {
            let have = session.supported_algs(kind).unwrap();
            let missing: Vec<_> = defaults.iter().filter(|d| !have.contains(d)).collect();
            assert!(missing.is_empty(), "not in this libssh2: {missing:?}");
        }
        assert_eq!(KEX[0], "curve25519-sha256");
        assert_eq!(HOST_KEYS[0], "ssh-ed25519");
    }
}
