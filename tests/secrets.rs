//! Secrets (password, community, privacy password, script output) never appear on
//! stderr, in the debug file, or on the argv of any process fencebox starts, at the
//! highest verbosity. Child processes are observed with strace.

mod common;
use common::Sandbox;
use std::process::Command;

const PASSWORD: &str = "Pw-7f3a91-secret";
const COMMUNITY: &str = "Comm-5b2c77-secret";
const PRIV: &str = "Priv-0d4e18-secret";
const SCRIPTED: &str = "Scripted-93ab02-secret";
const SCRIPTED_PRIV: &str = "ScriptedPriv-61fe3c-secret";

fn assert_clean(what: &str, text: &str) {
    for s in [PASSWORD, COMMUNITY, PRIV, SCRIPTED, SCRIPTED_PRIV] {
        assert!(!text.contains(s), "{what} contains a secret:\n{text}");
    }
}

/// Run `agent` under strace with `stdin`; returns (exit, stderr, execve trace).
fn traced(sb: &Sandbox, agent: &str, stdin: &str) -> (i32, String, String) {
    let trace = sb.path("execve.trace");
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("strace is missing: apt-get install strace (tests/run-all.sh installs it)");
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-qq", "-s", "65535", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(sb.agent(agent))
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d"))
        .env_remove("PCMK_service");
    let out = common::feed(&mut cmd, stdin.as_bytes());
    let out = out.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&trace).unwrap(),
    )
}

#[test]
fn no_secret_in_logs_or_child_argv() {
    let sb = Sandbox::new("secrets");
    sb.set_state("on");
    std::fs::write(sb.path("pw.txt"), format!("{SCRIPTED}\n")).unwrap();
    std::fs::write(sb.path("priv.txt"), format!("{SCRIPTED_PRIV}\n")).unwrap();
    let debug = sb.path("debug.log");
    let common_in = format!(
        "ip=127.0.0.10\nplug=3\nverbose_level=3\nverbose=1\ndebug_file={}\nstatus_file={}\nsnmp_version=3\n",
        debug.display(),
        sb.status_file().display()
    );
    let inputs = [
        format!("password={PASSWORD}\ncommunity={COMMUNITY}\nsnmp_priv_passwd={PRIV}\n"),
        format!(
            "password_script=cat {}\nsnmp_priv_passwd_script=cat {}\ncommunity={COMMUNITY}\n",
            sb.path("pw.txt").display(),
            sb.path("priv.txt").display()
        ),
        // A misspelt key carrying a secret: the warning names the key only.
        format!("pasword={PASSWORD}\ncomunity={COMMUNITY}\n"),
    ];
    let mut scripts_ran = false;
    for secrets in &inputs {
        for action in ["status", "reboot", "validate-all", "bogus-action"] {
            let (code, stderr, trace) = traced(
                &sb,
                "fence_testsnmp",
                &format!("action={action}\n{common_in}{secrets}"),
            );
            assert!(
                code == 0 || code == 1 || code == 2,
                "{action}: exit {code}: {stderr}"
            );
            assert!(
                stderr.contains("DEBUG") || action == "bogus-action",
                "verbose output expected: {stderr}"
            );
            assert_clean(&format!("stderr of {action}"), &stderr);
            assert_clean(&format!("execve trace of {action}"), &trace);
            scripts_ran |= trace.contains("/bin/sh");
        }
    }
    assert!(scripts_ran, "the *_script options run through /bin/sh");
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(log.contains("DEBUG"), "the debug file was written");
    assert!(
        log.contains("passwd=[set]"),
        "the option is shown as set, not by value: {log}"
    );
    assert_clean("debug file", &log);
}

#[test]
fn a_failing_password_script_is_one_clear_error() {
    let sb = Sandbox::new("secret-script-fails");
    let out = sb.run(
        "fence_testshell",
        "action=status\nip=127.0.0.1\nusername=u\nplug=1\npassword_script=exit 3",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("password_script exited with status 3"),
        "{out:?}"
    );
}

/// Syslog gets facility daemon and the agent's name as ident, and no secret even at the
/// highest verbosity.
#[test]
fn syslog_lines_are_named_and_clean() {
    use std::os::unix::net::UnixDatagram;
    let sb = Sandbox::new("syslog");
    sb.set_state("on");
    let sock_path = sb.path("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    // Read until the call's last line; a pause in the call (the reboot's status sleep)
    // must not end the reading early.
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut packets = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            let p = String::from_utf8_lossy(&buf[..n]).into_owned();
            let last = p.contains(": done (exit");
            packets.push(p);
            if last {
                break;
            }
        }
        packets
    });
    let out = sb.run_env(
        "fence_testsnmp",
        &format!("action=reboot\nip=127.0.0.1\nplug=1\nverbose_level=3\npassword={PASSWORD}\ncommunity={COMMUNITY}\nsnmp_priv_passwd={PRIV}\n"),
        &[("FENCEBOX_SYSLOG_SOCKET", sock_path.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let packets = reader.join().unwrap();
    assert!(packets.len() >= 3, "debug, info lines: {packets:?}");
    for p in &packets {
        assert_clean("syslog", p);
        // <facility daemon (3) * 8 + severity>ident[pid]: message
        let pri: u32 = p[1..p.find('>').unwrap()].parse().unwrap();
        assert_eq!(pri / 8, 3, "facility daemon: {p}");
        assert!(p.contains(">fence_testsnmp["), "ident: {p}");
    }
    assert!(
        packets.iter().any(|p| p.contains("reboot: done (exit 0)")),
        "{packets:?}"
    );
}

/// A syslog daemon that reads nothing must not stall an action.
#[test]
fn a_stuck_syslog_does_not_block_fencing() {
    use std::os::unix::net::UnixDatagram;
    let sb = Sandbox::new("syslog-stuck");
    sb.set_state("on");
    let sock_path = sb.path("log.sock");
    let _sock = UnixDatagram::bind(&sock_path).unwrap(); // never read
    let mut child = sb.spawn_env(
        "fence_dummy",
        "action=reboot\nverbose_level=3",
        &[("FENCEBOX_SYSLOG_SOCKET", sock_path.to_str().unwrap())],
    );
    let t = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && t.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        child.kill().unwrap();
    }
    let out = common::finish(child);
    assert!(finished, "blocked on syslog: {out:?}");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
}

/// fence_ipmilan speaks IPMI itself: no process is started at all (ipmitool took the
/// password on its argv), and neither the password nor the BMC key reaches a log.
#[test]
#[cfg(feature = "interop")]
fn ipmi_starts_no_process_and_logs_no_secret() {
    const KG: &str = "c0ffee0123456789abcdef";
    let sb = Sandbox::new("secrets-ipmi");
    let bmc = common::bmc::Bmc::ipmi_sim(&sb, "127.0.0.1");
    let debug = sb.path("debug.log");
    let base = format!(
        "ip=127.0.0.1\nipport={}\nusername=secretive\npassword={PASSWORD}\nverbose_level=3\nverbose=1\ndebug_file={}\npower_wait=0\n",
        bmc.port,
        debug.display()
    );
    for (extra, want) in [
        ("action=reboot\nlanplus=1\ncipher=3\n", 0),
        ("action=reboot\nauth=md5\n", 0),
        ("action=status\nlanplus=1\n", 0),
        (
            &*format!("action=status\nlanplus=1\ncipher=3\nhexadecimal_kg={KG}\n"),
            1,
        ),
    ] {
        let (code, stderr, trace) = traced(&sb, "fence_ipmilan", &format!("{base}{extra}"));
        assert_eq!(code, want, "{extra}: {stderr}");
        assert!(
            stderr.contains("DEBUG"),
            "verbose output expected: {stderr}"
        );
        assert_clean(&format!("stderr of {extra}"), &stderr);
        assert!(!stderr.contains(KG), "stderr shows the BMC key: {stderr}");
        let execs = trace.lines().filter(|l| l.contains("execve(")).count();
        assert_eq!(execs, 1, "only the agent itself is executed:\n{trace}");
    }
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(
        log.contains("IPMI 2.0: session"),
        "exchanges were logged: {log}"
    );
    assert_clean("debug file", &log);
    assert!(!log.contains(KG), "debug file shows the BMC key");
}

/// The ways a secret could reach a log line: as text, and as the bytes of a packet
/// (hex, or a byte list as `{:?}` prints it).
#[cfg(feature = "interop")]
fn secret_forms(secret: &str) -> [String; 4] {
    let b = secret.as_bytes();
    [
        secret.to_string(),
        b.iter().map(|c| format!("{c:02x}")).collect(),
        // Without the brackets: the secret is a run of bytes inside a packet.
        format!("{b:?}").trim_matches(['[', ']']).to_string(),
        format!("{b:02x?}").trim_matches(['[', ']']).to_string(),
    ]
}

/// SNMP at the highest verbosity against snmpsim, the exchanges logged: the v2c
/// community and the v3 authentication and privacy passwords appear in no form on stderr
/// or in the debug file. (The test above runs the SNMP agent on the dummy device, whose
/// exchanges are not SNMP.)
#[test]
#[cfg(feature = "interop")]
fn snmp_exchanges_log_no_secret() {
    let s = common::sims();
    let sb = Sandbox::new("secrets-snmp");
    let (main, v3) = (s.port.to_string(), s.v3("apc-rpdu2").to_string());
    // The community picks the simulated device; apc-rpdu2 appears nowhere else.
    let community = "apc-rpdu2";
    let v2c: Vec<&str> = vec!["-u", &main, "-d", "2c", "-c", community];
    let v3_args: Vec<&str> = [&["-u", v3.as_str()][..], common::V3].concat();
    let calls = [
        (vec![community], v2c),
        (vec!["authpass123", "privpass123"], v3_args),
    ];
    // Outlet 21 of this device is used by no other test.
    let actions: [&[&str]; 3] = [
        &["-n", "21", "-o", "status"],
        &["-o", "list-status"],
        &["-n", "21", "--power-wait", "0", "-o", "reboot"],
    ];
    for (i, (secrets, base)) in calls.iter().enumerate() {
        for (j, action) in actions.iter().enumerate() {
            let debug = sb.path(&format!("snmp-{i}-{j}.log"));
            let debug_arg = debug.to_str().unwrap();
            let args = [
                &["-a", "127.0.0.1"][..],
                base,
                action,
                &["--verbose-level", "3", "-D", debug_arg],
            ]
            .concat();
            let out = sb.run_args("fence_apc_snmp", &args);
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
            let log = std::fs::read_to_string(&debug).unwrap();
            assert!(
                out.stderr.contains("GET") && log.contains("GET"),
                "SNMP exchanges are logged: {out:?}"
            );
            for secret in secrets {
                for form in secret_forms(secret) {
                    assert!(!out.stderr.contains(&form), "{form} on stderr: {out:?}");
                    assert!(!log.contains(&form), "{form} in the debug file:\n{log}");
                }
            }
        }
    }
}

/// Scrubbing must not point at the secret: with user admin and password admin, the
/// message names the user ("password of user 'admin'"), where the old scrubbing printed
/// "user '[secret]'" and so told every log reader the password.
#[test]
#[cfg(feature = "interop")]
fn a_password_equal_to_the_user_name_leaves_the_user_readable() {
    let sb = Sandbox::new("secrets-admin");
    let bmc = common::bmc::Bmc::ipmi_sim(&sb, "127.0.0.1");
    let out = sb.run(
        "fence_ipmilan",
        &format!(
            "action=status\nip=127.0.0.1\nipport={}\nlanplus=1\ncipher=3\nusername=admin\npassword=admin\npower_wait=0\n",
            bmc.port
        ),
    );
    assert_eq!(out.code, 1, "the BMC's password is 'password': {out:?}");
    assert!(out.stderr.contains("password of user 'admin'"), "{out:?}");
    assert!(!out.stderr.contains("[secret]"), "{out:?}");
}

/// ESC and BEL in a plug reach every log escaped: they cannot drive the terminal that
/// shows stderr, nor hide in syslog or the debug file.
#[test]
fn control_characters_from_the_input_are_escaped_in_every_log() {
    use std::os::unix::net::UnixDatagram;
    let sb = Sandbox::new("secrets-controls");
    sb.set_state("on");
    let sock_path = sb.path("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut packets = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            packets.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        packets.join("\n")
    });
    let debug = sb.path("debug.log");
    let out = sb.run_env(
        "fence_testsnmp",
        &format!(
            "action=status\nip=192.0.2.1\nplug=3\u{1b}[2J\u{7}x\nverbose_level=3\ndebug_file={}\n",
            debug.display()
        ),
        &[("FENCEBOX_SYSLOG_SOCKET", sock_path.to_str().unwrap())],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let syslog = reader.join().unwrap();
    let file = std::fs::read_to_string(&debug).unwrap();
    for (what, text) in [
        ("stderr", &out.stderr),
        ("syslog", &syslog),
        ("debug file", &file),
    ] {
        assert!(
            text.contains("plug '3\\x1b[2J\\x07x'"),
            "{what} shows the plug escaped: {text}"
        );
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{what} has raw control characters: {text:?}"
        );
    }
}
