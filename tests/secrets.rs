//! Secrets (password, community, privacy password, script output) never appear on
//! stderr, in the debug file, or on the argv of any process fencebox starts, at the
//! highest verbosity. Child processes are observed with strace.

mod common;
use common::Sandbox;
use std::process::{Command, Stdio};

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
    let mut child = Command::new(strace)
        .args(["-f", "-qq", "-s", "65535", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(sb.agent(agent))
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d"))
        .env_remove("PCMK_service")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
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
        "ip=192.0.2.10\nplug=3\nverbose_level=3\nverbose=1\ndebug_file={}\nstatus_file={}\nsnmp_version=3\n",
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
        "action=status\nip=x\nusername=u\nplug=1\npassword_script=exit 3",
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
