//! The SSH and telnet transports against real servers on loopback (tests/peers/ssh,
//! started by tests/run-all.sh): Debian's OpenSSH sshd (a modern instance with password
//! and key login, one offering keyboard-interactive only, one restricted to the legacy
//! algorithms old devices speak) and inetutils telnetd logging in through /bin/login.
//! Gated behind the `interop` feature: `cargo test --features interop --test ssh_interop`.
#![cfg(feature = "interop")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fencebox::runtime::net::resolve_all;
use fencebox::runtime::stream::{ByteStream, StreamError};
use fencebox::ssh::options::HostKeyPolicy;
use fencebox::ssh::session::{connect, Algorithms, Login, SshSession, Target};
use fencebox::ssh::SshError;

/// What tests/peers/ssh/start.sh wrote to $PEERS_STATE/ssh/peers.env.
struct Peers(HashMap<String, String>);

impl Peers {
    fn load() -> Peers {
        let state =
            std::env::var("PEERS_STATE").unwrap_or_else(|_| "/tmp/fencebox-test-peers".into());
        let file = Path::new(&state).join("ssh/peers.env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; start the peers: tests/peers/ssh/start.sh",
                file.display()
            )
        });
        Peers(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
    fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} not in peers.env"))
    }
    fn port(&self, key: &str) -> u16 {
        self.get(key).parse().expect("a port number")
    }
    fn password(&self) -> Login {
        Login::Password(self.get("FB_SSH_PASSWORD").to_string())
    }
}

/// A known-hosts path of the test's own, in a directory that does not exist yet.
fn fresh_known_hosts(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fencebox-ssh-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("state").join("known_hosts")
}

fn target(peers: &Peers, host: &str, port_key: &str, known_hosts: &Path) -> Target {
    let port = peers.port(port_key);
    Target {
        addrs: resolve_all(host, port).expect("loopback resolves"),
        host: host.to_string(),
        port,
        username: peers.get("FB_SSH_USER").to_string(),
        known_hosts: known_hosts.to_path_buf(),
        host_key_policy: HostKeyPolicy::TrustOnFirstUse,
        algorithms: Algorithms::default(),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Read until `needle` has been seen; the bytes so far.
fn expect(stream: &mut dyn ByteStream, needle: &str) -> Vec<u8> {
    stream
        .read_until(&mut |b| contains(b, needle.as_bytes()), soon())
        .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e:?}"))
}

/// Run `command` without a terminal and read all it prints.
fn exec_output(session: &SshSession, command: &str) -> String {
    let mut stream = session.exec(command, soon()).expect("exec");
    let out = match stream.read_until(&mut |_| false, soon()) {
        Err(StreamError::Closed { read }) => read,
        other => panic!("exec of {command:?} did not end: {other:?}"),
    };
    stream.close();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn password_login_shell_and_a_commands_output_up_to_the_prompt() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("password");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("password login");
    let mut shell = session.shell(None, soon()).expect("shell");
    shell.write_all(b"PS1='[FB]# '\n", soon()).unwrap();
    expect(&mut shell, "[FB]# ");
    // The echo of the command line shows `$((6*7))`; only the output shows 42.
    shell.write_all(b"echo fb-$((6*7))-out\n", soon()).unwrap();
    let seen = shell
        .read_until(
            &mut |b| {
                let text = String::from_utf8_lossy(b);
                text.find("fb-42-out")
                    .is_some_and(|at| text[at..].contains("[FB]# "))
            },
            soon(),
        )
        .expect("the output, then the prompt");
    assert!(contains(&seen, b"fb-42-out"));
    shell.write_all(b"exit\n", soon()).unwrap();
    shell.close();
}

#[test]
fn keyboard_interactive_only_server_takes_the_password() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("kbdint");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_KBDINT", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("keyboard-interactive login");
    assert_eq!(exec_output(&session, "echo kbd-ok").trim(), "kbd-ok");
}

#[test]
fn public_key_login_with_and_without_a_passphrase() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("pubkey");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    let plain = Login::Key {
        file: peers.get("FB_SSH_KEY").into(),
        passphrase: None,
    };
    let session = connect(&t, &plain, soon()).expect("key login");
    assert_eq!(exec_output(&session, "echo key-ok").trim(), "key-ok");
    let locked = Login::Key {
        file: peers.get("FB_SSH_KEY_ENC").into(),
        passphrase: Some(peers.get("FB_SSH_KEY_PASSPHRASE").to_string()),
    };
    let session = connect(&t, &locked, soon()).expect("key login with passphrase");
    assert_eq!(exec_output(&session, "echo enc-ok").trim(), "enc-ok");
    let wrong = Login::Key {
        file: peers.get("FB_SSH_KEY_ENC").into(),
        passphrase: Some("not the phrase".into()),
    };
    match connect(&t, &wrong, soon()) {
        Err(SshError::AuthFailed(m)) => assert!(m.contains("public-key"), "{m}"),
        Err(e) => panic!("wrong passphrase: {e}"),
        Ok(_) => panic!("a wrong passphrase logged in"),
    }
    // An unencrypted Ed25519 key (signed with by fencebox, not libssh2) that the account
    // does not authorise: refused as such, at once.
    let stranger = kh.with_file_name("stranger_ed25519");
    let _ = std::fs::remove_file(&stranger);
    std::fs::create_dir_all(kh.parent().expect("a folder")).expect("its folder");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());
    let started = Instant::now();
    let unknown = Login::Key {
        file: stranger,
        passphrase: None,
    };
    match connect(&t, &unknown, soon()) {
        Err(SshError::AuthFailed(m)) => assert!(m.contains("public-key"), "{m}"),
        Err(e) => panic!("unauthorised key: {e}"),
        Ok(_) => panic!("an unauthorised key logged in"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn exec_merges_stderr_and_reports_the_exit_status() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("exec");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("login");
    let mut stream = session
        .exec("echo to-out; echo to-err >&2; exit 3", soon())
        .unwrap();
    let out = match stream.read_until(&mut |_| false, soon()) {
        Err(StreamError::Closed { read }) => String::from_utf8_lossy(&read).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(out.contains("to-out") && out.contains("to-err"), "{out:?}");
    assert_eq!(stream.exit_status(soon()), Some(3));
    stream.close();
}

#[test]
fn first_connect_records_the_host_key_then_a_changed_key_is_refused() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("tofu");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    connect(&t, &peers.password(), soon()).expect("first connect");
    let recorded = std::fs::read_to_string(&kh).expect("the known-hosts file was written");
    let port = peers.port("FB_SSH_PORT_MAIN");
    assert_eq!(recorded.lines().count(), 1, "{recorded}");
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{port} ssh-ed25519 ")),
        "{recorded}"
    );

    connect(&t, &peers.password(), soon()).expect("second connect, key known");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        recorded,
        "nothing added"
    );

    // The device "was replaced": the file holds another key for it on line 2.
    let other = format!(
        "# kept by fencebox\n[127.0.0.1]:{port} ssh-ed25519 \
         AAAAC3NzaC1lZDI1NTE5AAAAIBi0hTmBeEkf3mqjdUd6NGTh4w7jtEg9TG9uDzEGPbl1\n"
    );
    std::fs::write(&kh, &other).unwrap();
    let started = Instant::now();
    match connect(&t, &peers.password(), soon()) {
        Err(SshError::HostKey(m)) => {
            assert!(
                m.contains("line 2 of") && m.contains(&kh.display().to_string()),
                "{m}"
            );
            assert!(m.contains("ssh-keygen -R"), "{m}");
        }
        Err(e) => panic!("changed key: {e}"),
        Ok(_) => panic!("a changed host key was accepted"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        other,
        "the file is left alone"
    );
}

#[test]
fn strict_checking_refuses_an_unknown_host() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("strict");
    let mut t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    t.host_key_policy = HostKeyPolicy::Strict;
    match connect(&t, &peers.password(), soon()) {
        Err(SshError::HostKey(m)) => assert!(m.contains("StrictHostKeyChecking=yes"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    assert!(!kh.exists(), "strict checking writes nothing");
}

#[test]
fn a_wrong_password_fails_at_once_saying_so() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("wrongpw");
    for port_key in ["FB_SSH_PORT_MAIN", "FB_SSH_PORT_KBDINT"] {
        let t = target(&peers, "127.0.0.1", port_key, &kh);
        let started = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(60);
        match connect(&t, &Login::Password("not-the-password".into()), deadline) {
            Err(e @ SshError::AuthFailed(_)) => {
                assert!(e.to_string().starts_with("authentication failed"), "{e}");
                assert!(!e.to_string().contains("not-the-password"), "{e}");
            }
            Err(e) => panic!("{port_key}: {e}"),
            Ok(_) => panic!("{port_key}: a wrong password logged in"),
        }
        // The test sshd has no PAM failure delay (tests/peers/ssh/start.sh), so the
        // refusal comes at once: it is the answer, the 60 s deadline is never waited out.
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "{port_key}: took {took:?}");
    }
}

#[test]
fn a_legacy_only_server_is_reachable() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("legacy");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_LEGACY", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("login to the legacy sshd");
    assert_eq!(exec_output(&session, "echo legacy-ok").trim(), "legacy-ok");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.contains(" ssh-rsa "), "{recorded}");
}

#[test]
fn each_legacy_algorithm_alone() {
    use fencebox::ssh::options::AlgorithmList;
    let peers = Peers::load();
    let only = |name: &str| Some(AlgorithmList::Replace(vec![name.to_string()]));
    let cases = [
        (
            "kex group1",
            Algorithms {
                kex: only("diffie-hellman-group1-sha1"),
                ..Default::default()
            },
        ),
        (
            "ssh-dss",
            Algorithms {
                host_keys: only("ssh-dss"),
                ..Default::default()
            },
        ),
        (
            "3des-cbc",
            Algorithms {
                ciphers: only("3des-cbc"),
                ..Default::default()
            },
        ),
        (
            "hmac-md5",
            Algorithms {
                macs: only("hmac-md5"),
                ..Default::default()
            },
        ),
        (
            "hmac-sha1-96",
            Algorithms {
                macs: only("hmac-sha1-96"),
                ..Default::default()
            },
        ),
    ];
    for (what, algorithms) in cases {
        let kh = fresh_known_hosts(&format!("legacy-{}", what.replace(' ', "-")));
        let mut t = target(&peers, "127.0.0.1", "FB_SSH_PORT_LEGACY", &kh);
        t.algorithms = algorithms;
        let session =
            connect(&t, &peers.password(), soon()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(exec_output(&session, "echo ok").trim(), "ok", "{what}");
    }
}

#[test]
fn a_modern_only_server_refuses_a_legacy_only_client_with_a_clear_error() {
    use fencebox::ssh::options::AlgorithmList;
    let peers = Peers::load();
    let kh = fresh_known_hosts("nomatch");
    let mut t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    t.algorithms.kex = Some(AlgorithmList::Replace(vec![
        "diffie-hellman-group1-sha1".into()
    ]));
    match connect(&t, &peers.password(), soon()) {
        Err(SshError::Negotiation(m)) => assert!(m.contains("handshake failed"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn ssh_over_ipv6() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("ipv6");
    let t = target(&peers, "::1", "FB_SSH_PORT_MAIN", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("login over ::1");
    assert_eq!(exec_output(&session, "echo v6-ok").trim(), "v6-ok");
    let port = peers.port("FB_SSH_PORT_MAIN");
    assert!(std::fs::read_to_string(&kh)
        .unwrap()
        .starts_with(&format!("[::1]:{port} ")));
}

/// Log in over telnet through /bin/login; the stream after the password.
fn telnet_login(
    peers: &Peers,
    host: &str,
    password: &str,
) -> (fencebox::telnet::TelnetStream, Vec<u8>) {
    let port = peers.port("FB_TELNET_PORT");
    let addrs = resolve_all(host, port).unwrap();
    let mut t = fencebox::telnet::connect(&addrs, soon()).expect("telnet connect");
    expect(&mut t, "login: ");
    t.write_all(
        format!("{}\r\n", peers.get("FB_SSH_USER")).as_bytes(),
        soon(),
    )
    .unwrap();
    expect(&mut t, "Password: ");
    t.write_all(format!("{password}\r\n").as_bytes(), soon())
        .unwrap();
    let after = t
        .read_until(
            &mut |b| contains(b, b"$ ") || contains(b, b"login: "),
            soon(),
        )
        .expect("a shell prompt or the login prompt again");
    (t, after)
}

#[test]
fn telnet_reaches_the_login_prompt_and_logs_in() {
    let peers = Peers::load();
    for host in ["127.0.0.1", "::1"] {
        let (mut t, after) = telnet_login(&peers, host, peers.get("FB_SSH_PASSWORD"));
        assert!(
            contains(&after, b"$ "),
            "{host}: {:?}",
            String::from_utf8_lossy(&after)
        );
        t.write_all(b"echo tn-$((6*7))-out\r\n", soon()).unwrap();
        expect(&mut t, "tn-42-out");
        t.write_all(b"exit\r\n", soon()).unwrap();
        t.close();
    }
}

#[test]
fn telnet_wrong_password_brings_the_login_prompt_back() {
    let peers = Peers::load();
    let (_t, after) = telnet_login(&peers, "127.0.0.1", "not-the-password");
    let text = String::from_utf8_lossy(&after);
    assert!(
        text.contains("Login incorrect") && text.contains("login: "),
        "{text:?}"
    );
}

#[test]
fn a_prompt_that_never_comes_times_out_at_the_deadline() {
    let peers = Peers::load();
    let kh = fresh_known_hosts("silent");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("login");
    let mut shell = session.shell(None, soon()).expect("shell");
    let wait = Duration::from_millis(800);
    let started = Instant::now();
    match shell.read_until(&mut |b| contains(b, b"never printed"), started + wait) {
        Err(StreamError::TimedOut { .. }) => {}
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= wait && took < wait * 3, "took {took:?}");
    shell.close();

    let addrs = resolve_all("::1", peers.port("FB_TELNET_PORT")).unwrap();
    let mut tn = fencebox::telnet::connect(&addrs, soon()).expect("telnet");
    let started = Instant::now();
    match tn.read_until(&mut |b| contains(b, b"never printed"), started + wait) {
        Err(StreamError::TimedOut { read }) => {
            assert!(contains(&read, b"login: "), "what came is kept: {read:?}")
        }
        other => panic!("{other:?}"),
    }
    let took = started.elapsed();
    assert!(took >= wait && took < wait * 3, "took {took:?}");
}

#[test]
fn fence_virsh_default_options_give_its_prompt_on_a_terminal() {
    // fence_virsh's default ssh_options, read by the parser and run as its `-t` command.
    let text = r#"-t '/bin/bash -c "PS1=\\[EXPECT\\]#\  /bin/bash --noprofile --norc"'"#;
    let opts = fencebox::ssh::options::parse(text).expect("fence_virsh's default parses");
    let peers = Peers::load();
    let kh = fresh_known_hosts("virsh-form");
    let t = target(&peers, "127.0.0.1", "FB_SSH_PORT_MAIN", &kh);
    let session = connect(&t, &peers.password(), soon()).expect("login");
    let mut shell = session
        .shell(opts.remote_command.as_deref(), soon())
        .expect("command on a pty");
    expect(&mut shell, "[EXPECT]# ");
    shell.write_all(b"echo $((6*7))-virsh\n", soon()).unwrap();
    expect(&mut shell, "42-virsh");
    shell.write_all(b"exit\n", soon()).unwrap();
    shell.close();
}
