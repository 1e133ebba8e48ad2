//! The stdin grammar and every deprecated/canonical alias pair, through the real binary
//! (fence-agents protocol §2.2-2.5). The agent's debug log prints the options it
//! resolved, keyed by internal name, which is what these tests read.

mod common;
use common::Sandbox;

const BASE: &str =
    "action=validate-all\nverbose=1\nipaddr=127.0.0.1\nlogin=admin\npasswd=pw-base\nport=1\n";

/// The resolved options of a validate-all run on fence_testshell with `extra` appended.
fn resolved(extra: &str) -> (String, common::Out) {
    let sb = Sandbox::new("grammar");
    let out = sb.run("fence_testshell", &format!("{BASE}{extra}"));
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("options: "))
        .unwrap_or_default()
        .to_string();
    (line, out)
}

fn has_opt(line: &str, kv: &str) -> bool {
    line.contains(&format!(" {kv} ")) || line.ends_with(&format!(" {kv}"))
}

#[test]
fn grammar_table() {
    // (input lines, option expected in the resolved set, expected warning or "")
    let cases: &[(&str, &str, &str)] = &[
        // The line is stripped, the value after '=' is not (as in fence-agents).
        ("ipaddr=  127.0.0.11  ", "ipaddr=  127.0.0.11", ""),
        ("   ipaddr=127.0.0.12\t", "ipaddr=127.0.0.12", ""),
        ("#ipaddr=127.0.0.13", "ipaddr=127.0.0.1", ""),
        ("\n\n\nipaddr=127.0.0.14\n\n", "ipaddr=127.0.0.14", ""),
        ("cmd_prompt=a=b=c", "cmd_prompt=a=b=c", ""),
        ("ipaddr=\"127.0.0.15\"", "ipaddr=127.0.0.15", ""),
        ("cmd_prompt=\"\"x\"\"", "cmd_prompt=\"x\"", ""),
        ("cmd_prompt=\"half", "cmd_prompt=\"half", ""),
        (
            "ipaddr=127.0.0.16\nipaddr=127.0.0.17",
            "ipaddr=127.0.0.17",
            "",
        ),
        (
            "Ipaddr=127.0.0.18",
            "ipaddr=127.0.0.1",
            "Ignoring unknown option 'Ipaddr'",
        ),
        (
            "ipaddr =127.0.0.19",
            "ipaddr=127.0.0.1",
            "Ignoring unknown option 'ipaddr '",
        ),
        (
            "nodeid=3",
            "ipaddr=127.0.0.1",
            "Ignoring unknown option 'nodeid'",
        ),
        ("ssh=yes", "secure=1", ""),
        ("ssh=TRUE", "secure=1", ""),
        ("ssh=on", "secure=1", ""),
        ("ssh=off", "secure=0", ""),
        ("ssh=No", "secure=0", ""),
        ("ssh=maybe", "ipaddr=127.0.0.1", "does not have value"),
        ("ssh", "ipaddr=127.0.0.1", "does not have value"),
        ("power-timeout=7", "power_timeout=7", ""),
        ("power_timeout=8", "power_timeout=8", ""),
        ("login-timeout= 9 ", "login_timeout=9", ""),
        ("method=CYCLE", "method=cycle", ""),
        ("action=VALIDATE-ALL", "ipaddr=127.0.0.1", ""),
    ];
    for (extra, want, warning) in cases {
        let (line, out) = resolved(extra);
        assert_eq!(out.code, 0, "input {extra:?}: {out:?}");
        assert!(
            has_opt(&line, want),
            "input {extra:?}: want {want} in {line}"
        );
        if warning.is_empty() {
            assert!(
                !out.stderr.contains("WARNING"),
                "input {extra:?}: unexpected warning {out:?}"
            );
        } else {
            assert!(
                out.stderr.contains(warning),
                "input {extra:?}: want warning {warning}: {out:?}"
            );
        }
        assert!(
            out.stdout.is_empty(),
            "validate-all prints nothing: {out:?}"
        );
    }
}

#[test]
fn nodename_is_accepted_silently() {
    let (_, out) = resolved("nodename=node1");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("WARNING"), "{out:?}");
}

#[test]
fn every_alias_pair_resolves_to_one_option() {
    let sb = Sandbox::new("aliases");
    let debug = sb.path("debug.log");
    let script = sb.path("pw.sh");
    std::fs::write(&script, "#!/bin/sh\ncat \"$(dirname \"$0\")/pw.txt\"\n").unwrap();
    std::fs::write(sb.path("pw.txt"), "from-script\n").unwrap();
    let debug_s = debug.display().to_string();
    let script_s = format!("sh {}", script.display());
    // (internal key, canonical name, value, what the resolved set shows)
    let pairs: Vec<(&str, &str, String, String)> = vec![
        (
            "ipaddr",
            "ip",
            "127.1.1.1".into(),
            "ipaddr=127.1.1.1".into(),
        ),
        (
            "login",
            "username",
            "operator".into(),
            "login=operator".into(),
        ),
        (
            "passwd",
            "password",
            "pw-alias".into(),
            "passwd=[set]".into(),
        ),
        (
            "passwd_script",
            "password_script",
            script_s.clone(),
            format!("passwd_script={script_s}"),
        ),
        ("port", "plug", "7".into(), "port=7".into()),
        (
            "cmd_prompt",
            "command_prompt",
            "pdu>".into(),
            "cmd_prompt=pdu>".into(),
        ),
        ("secure", "ssh", "1".into(), "secure=1".into()),
        (
            "debug",
            "debug_file",
            debug_s.clone(),
            format!("debug={debug_s}"),
        ),
        ("sudo", "use_sudo", "yes".into(), "sudo=1".into()),
    ];
    for (old, new, value, want) in &pairs {
        for name in [old.to_string(), new.to_string(), new.replace('_', "-")] {
            let (line, out) = resolved(&format!("{name}={value}"));
            assert_eq!(out.code, 0, "{name}: {out:?}");
            assert!(
                has_opt(&line, want),
                "{name}={value}: want {want} in {line}"
            );
        }
    }
}

#[test]
fn argv_and_stdin_are_never_mixed() {
    let sb = Sandbox::new("argv-xor");
    sb.set_state("on");
    let mut child = sb
        .command("fence_dummy")
        .args([
            "-o",
            "status",
            "--status-file",
            sb.status_file().to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // Were stdin read, this would turn the machine off.
    let _ = child.stdin.take().unwrap().write_all(b"action=off\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Status: ON\n");
    assert_eq!(sb.state(), "on");
}

#[test]
fn argv_forms_match_getopt() {
    let sb = Sandbox::new("argv");
    sb.set_state("off");
    let f = sb.status_file().display().to_string();
    for args in [
        vec!["-o", "status", "--status-file", &f],
        vec!["--action=status", &format!("--status-file={f}")],
        vec!["-ostatus", "--status-f", &f],
        vec!["--status-file", &f, "-o", "status", "-vvv"],
    ] {
        let out = sb.run_args("fence_dummy", &args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "Status: OFF\n", "{args:?}");
    }
    let out = sb.run_args(
        "fence_dummy",
        &["-o", "status", "--status-file", &f, "leftover"],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("Unused arguments on command line: leftover"),
        "{out:?}"
    );
}
