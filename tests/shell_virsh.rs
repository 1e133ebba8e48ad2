//! fence_virsh against the real thing: OpenSSH's sshd, bash and virsh, with libvirtd's
//! test driver behind (tests/peers/ssh/start.sh), and Debian's fence_virsh on the same
//! peer with the same stdin as the reference.

mod common;
use common::shell::{differential, same, set, ShellPeers, EVERY_ACTION};
use common::{Out, Sandbox};
use std::time::{Duration, Instant};

/// fence_virsh's own default: a plain bash with the prompt its dialogue expects.
const BASH: &str = r#"-t '/bin/bash -c "PS1=\\[EXPECT\\]# /bin/bash --noprofile --norc"'"#;

fn base(p: &ShellPeers, host: &str) -> String {
    p.ssh_stdin(host, "FB_SSH_PORT_MAIN", p.get("FB_SSH_USER"), BASH)
}

fn ours(sb: &Sandbox, stdin: &str) -> Out {
    sb.run("fence_virsh", stdin)
}

#[test]
fn every_action_answers_as_debians_fence_virsh_does() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-diff");
    let b = format!("{}plug=vnode1\npower_wait=0\n", base(&p, "127.0.0.1"));
    let set_to = |state: &str| set(&sb, "fence_virsh", &b, state);
    differential(&sb, "fence_virsh", &b, EVERY_ACTION, &same, &same);
    // And the domain really is where the last action left it, as virsh says.
    set_to("off");
    let out = ours(&sb, &format!("{b}action=status\n"));
    assert_eq!((out.code, out.stdout.as_str()), (2, "Status: OFF\n"));
    set_to("on");
}

#[test]
fn list_status_reads_every_domain_with_its_state() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-list");
    let out = ours(
        &sb,
        &format!("{}action=list-status\n", base(&p, "127.0.0.1")),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.lines().any(|l| l == "vnode3,,off"), "{out:?}");
    assert!(out.stdout.lines().any(|l| l == "test,,on"), "{out:?}");
    assert!(
        !out.stdout.contains("Name"),
        "the header is not a domain: {out:?}"
    );
}

#[test]
fn a_domain_by_uuid() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-uuid");
    let stdin = format!(
        "{}plug={}\naction=status\n",
        base(&p, "127.0.0.1"),
        p.get("FB_VIRSH_VNODE3_UUID")
    );
    let out = ours(&sb, &stdin);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );
}

#[test]
fn key_login_with_and_without_a_passphrase() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-key");
    // The public half comes from the key itself (an OpenSSH-format key keeps it in the
    // clear): a key without its .pub, and one beside another key's .pub, log in alike.
    let key = p.get("FB_SSH_KEY");
    let mut keys = vec![
        (key.to_string(), ""),
        (
            p.get("FB_SSH_KEY_ENC").to_string(),
            p.get("FB_SSH_KEY_PASSPHRASE"),
        ),
    ];
    for (name, public) in [
        ("alone", None),
        ("wrong-pub", Some(p.get("FB_SSH_KEY_ENC"))),
    ] {
        let copy = sb.path(&format!("id-{name}"));
        std::fs::copy(key, &copy).unwrap();
        if let Some(other) = public {
            std::fs::copy(format!("{other}.pub"), format!("{}.pub", copy.display())).unwrap();
        }
        keys.push((copy.display().to_string(), ""));
    }
    for (key, phrase) in keys {
        let stdin = format!(
            "ip=127.0.0.1\nipport={}\nusername={}\nidentity_file={key}\npassword={phrase}\nssh_options={}\nplug=test\naction=status\n",
            p.get("FB_SSH_PORT_MAIN"),
            p.get("FB_SSH_USER"),
            p.strict_ssh_options(BASH)
        );
        let out = ours(&sb, &stdin);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "{key}: {out:?}"
        );
    }
}

#[test]
fn the_public_half_read_from_a_key_is_what_ssh_keygen_derives_and_ed25519_is_signed_here() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-keygen");
    let mut keys: Vec<(String, &str)> = vec![
        (p.get("FB_SSH_KEY").to_string(), ""),
        (
            p.get("FB_SSH_KEY_ENC").to_string(),
            p.get("FB_SSH_KEY_PASSPHRASE"),
        ),
    ];
    for kind in ["rsa", "ecdsa"] {
        let path = sb.path(&format!("id_{kind}"));
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen (openssh-client) is installed by tests/run-all.sh");
        assert!(made.success());
        keys.push((path.display().to_string(), ""));
    }
    for (path, phrase) in keys {
        let derived = std::process::Command::new("ssh-keygen")
            .args(["-y", "-P", phrase, "-f", &path])
            .output()
            .unwrap();
        assert!(derived.status.success(), "{path}: {derived:?}");
        let derived = String::from_utf8(derived.stdout).unwrap();
        let derived: Vec<&str> = derived.split_whitespace().take(2).collect();
        let text = std::fs::read_to_string(&path).unwrap();
        let read = fencebox::ssh::key::read(&text);
        assert_eq!(read.public(), Some(derived.join(" ")), "{path}");
        // Only the unencrypted Ed25519 key is signed with by fencebox itself.
        let own = matches!(read, fencebox::ssh::key::KeyFile::Ed25519 { .. });
        assert_eq!(own, path == p.get("FB_SSH_KEY"), "{path}");
    }
}

/// The agent binary (fencebox-shell), whose OpenSSL is set up its own way at start (no
/// legacy name tables, HASH-DRBG), with each algorithm an old device may be limited to,
/// alone, against the sshd restricted to them: every one still gives a session.
#[test]
fn each_legacy_algorithm_alone_through_the_agent_binary() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-legacy");
    for only in [
        "-o KexAlgorithms=diffie-hellman-group14-sha1",
        "-o KexAlgorithms=diffie-hellman-group1-sha1",
        "-o HostKeyAlgorithms=ssh-rsa",
        "-o HostKeyAlgorithms=ssh-dss",
        "-o Ciphers=aes128-cbc",
        "-o Ciphers=3des-cbc",
        "-o MACs=hmac-sha1",
        "-o MACs=hmac-sha1-96",
        "-o MACs=hmac-md5",
    ] {
        let stdin = p.ssh_stdin(
            "127.0.0.1",
            "FB_SSH_PORT_LEGACY",
            p.get("FB_SSH_USER"),
            &format!("{only} {BASH}"),
        ) + "plug=vnode1\naction=status\n";
        let out = ours(&sb, &stdin);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Status: ON\n"),
            "{only}: {out:?}"
        );
    }
}

#[test]
fn a_wrong_password_fails_within_a_second_saying_so() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-wrong");
    let stdin =
        base(&p, "127.0.0.1").replace(p.password(), "not-the-password") + "plug=test\naction=off\n";
    let started = Instant::now();
    let out = ours(&sb, &stdin);
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device")
            && out.stderr.contains("authentication failed"),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_missing_domain_fails_or_is_off_with_missing_as_off() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-missing");
    let b = format!(
        "{}plug=no-such-domain\naction=status\n",
        base(&p, "127.0.0.1")
    );
    let out = ours(&sb, &b);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("no-such-domain"), "{out:?}");
    let out = ours(&sb, &format!("{b}missing_as_off=1\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );
    // Off of a missing domain with missing_as_off is "already off", never a command.
    let off = b.replace("action=status", "action=off") + "missing_as_off=1\n";
    let out = ours(&sb, &off);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn over_ipv6() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-v6");
    let out = ours(
        &sb,
        &format!(
            "{}plug=test\naction=status\ninet6_only=1\n",
            base(&p, "::1")
        ),
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
}

#[test]
fn no_password_in_any_log_and_no_program_run() {
    let p = ShellPeers::load();
    let sb = Sandbox::new("virsh-secrets");
    let debug = sb.path("debug.log");
    let stdin = format!(
        "{}plug=test\naction=status\nverbose_level=3\ndebug_file={}\n",
        base(&p, "127.0.0.1"),
        debug.display()
    );
    // No PATH: fencebox runs no ssh, no telnet, nothing.
    let out = sb.run_env("fence_virsh", &stdin, &[("PATH", "/nonexistent")]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(
        log.contains("shell: sent \"virsh domstate test\""),
        "no transcript: {log}"
    );
    assert!(log.contains("shell: received"), "{log}");
    for text in [&out.stderr, &log] {
        assert!(
            !text.contains(p.password()),
            "the password was logged:\n{text}"
        );
    }
}
