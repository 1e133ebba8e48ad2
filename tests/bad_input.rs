//! Bad input: exit 1, nothing on stdout, exactly one line on stderr saying what is wrong
//! (and how to fix it), never a panic and never a success line.

mod common;
use common::Sandbox;

fn assert_one_clear_line(what: &str, out: &common::Out, needle: &str) {
    assert_eq!(out.code, 1, "{what}: {out:?}");
    assert_eq!(out.stdout, "", "{what}: nothing on stdout: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{what}: {out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{what}: one line: {out:?}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{what}: expected '{needle}': {out:?}"
    );
}

const SHELL_OK: &str = "ip=127.0.0.1\nusername=u\npassword=p\nplug=1\n";

#[test]
fn stdin_values() {
    let sb = Sandbox::new("bad");
    sb.set_state("on");
    let dir = sb.path("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(&str, &str, String, &str)> = vec![
        (
            "unknown action",
            "fence_dummy",
            "action=explode".into(),
            "Unrecognised action 'explode'",
        ),
        (
            "missing plug",
            "fence_testshell",
            "action=off\nip=127.0.0.1\nusername=u\npassword=p".into(),
            "plug",
        ),
        (
            "missing ip",
            "fence_testshell",
            "action=off\nusername=u\npassword=p\nplug=1".into(),
            "fence address",
        ),
        (
            "missing login",
            "fence_testshell",
            "action=off\nip=127.0.0.1\npassword=p\nplug=1".into(),
            "login name",
        ),
        (
            "missing password",
            "fence_testshell",
            "action=off\nip=127.0.0.1\nusername=u\nplug=1".into(),
            "password",
        ),
        (
            "invalid choice",
            "fence_testshell",
            format!("action=reboot\n{SHELL_OK}method=sideways"),
            "valid choice for --method",
        ),
        (
            "non-numeric power_timeout",
            "fence_dummy",
            "action=off\npower_timeout=abc".into(),
            "power_timeout must be a whole number",
        ),
        (
            "negative delay",
            "fence_dummy",
            "action=off\ndelay=-5".into(),
            "delay must be a whole number",
        ),
        (
            "fractional power_wait",
            "fence_dummy",
            "action=off\npower_wait=1.5".into(),
            "power_wait",
        ),
        (
            "negative retry_on",
            "fence_dummy",
            "action=on\nretry_on=-1".into(),
            "retry_on",
        ),
        (
            "garbage disable_timeout",
            "fence_dummy",
            "action=off\ndisable_timeout=perhaps".into(),
            "disable_timeout",
        ),
        (
            "empty plug_separator",
            "fence_testshell",
            format!("action=off\n{SHELL_OK}plug_separator="),
            "plug_separator",
        ),
        (
            "unreadable status_file",
            "fence_dummy",
            format!("action=status\nstatus_file={}", dir.display()),
            "cannot read status_file",
        ),
        (
            "empty status_file",
            "fence_dummy",
            "action=status\nstatus_file=".into(),
            "status_file",
        ),
        (
            "bad type",
            "fence_dummy",
            "action=status\ntype=banana".into(),
            "type must be file or fail",
        ),
        (
            "bad random_sleep_range",
            "fence_dummy",
            "action=status\nrandom_sleep_range=soon".into(),
            "random_sleep_range",
        ),
        (
            "failing password_script",
            "fence_testshell",
            "action=off\nip=127.0.0.1\nusername=u\nplug=1\npassword_script=false".into(),
            "password_script exited with status 1",
        ),
        (
            "password_script printing nothing",
            "fence_testshell",
            "action=off\nip=127.0.0.1\nusername=u\nplug=1\npassword_script=true".into(),
            "printed nothing",
        ),
        (
            "65 different plugs",
            "fence_testshell",
            format!(
                "action=off\n{SHELL_OK}plug={}",
                (1..=65)
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "at most 64 can be switched in one call",
        ),
        (
            "unwritable debug_file",
            "fence_dummy",
            "action=status\ndebug_file=/nonexistent-dir/x.log".into(),
            "debug_file",
        ),
    ];
    for (what, agent, input, needle) in &cases {
        let out = sb.run(agent, input);
        assert_one_clear_line(what, &out, needle);
    }
    assert_eq!(sb.state(), "on", "no bad input reached the device");
}

#[test]
fn stdin_bytes() {
    let sb = Sandbox::new("bad-bytes");
    sb.set_state("on");
    let status = format!("status_file={}\n", sb.status_file().display());
    let mut huge = format!("action=off\n{status}plug=").into_bytes();
    huge.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    huge.push(b'\n');
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a 1 MiB line", huge, "KiB"),
        (
            "NUL bytes",
            format!("action=off\n{status}\0\n").into_bytes(),
            "NUL",
        ),
        (
            "invalid UTF-8",
            [
                format!("action=off\n{status}").as_bytes(),
                b"plug=\xff\xfe\n",
            ]
            .concat(),
            "UTF-8",
        ),
        (
            "more than 1 MiB",
            vec![b'#'; 2 * 1024 * 1024],
            "larger than",
        ),
    ];
    for (what, bytes, needle) in cases {
        let out = sb.run_raw("fence_dummy", &bytes);
        assert_one_clear_line(what, &out, needle);
    }
    assert_eq!(sb.state(), "on");
}

#[test]
fn argv() {
    let sb = Sandbox::new("bad-argv");
    for (what, args, needle) in [
        ("unknown option", vec!["--explode"], "Parse error"),
        ("missing value", vec!["-o"], "Parse error"),
        (
            "unknown action",
            vec!["-o", "explode"],
            "Unrecognised action",
        ),
        (
            "bad number",
            vec!["-o", "off", "--power-timeout", "x"],
            "power_timeout",
        ),
    ] {
        let out = sb.run_args("fence_dummy", &args);
        assert_one_clear_line(what, &out, needle);
    }
}

/// A device name that does not resolve is one clear line and exit 1. The call runs in a
/// network namespace of its own (`unshare -n`, as root), where no DNS server can be
/// reached: the test never sends a query to the machine's resolver.
#[test]
fn an_unresolvable_device_name_is_one_clear_line() {
    let sb = Sandbox::new("unresolvable");
    let agent = sb.agent("fence_apc_snmp");
    let mut cmd = std::process::Command::new("unshare");
    cmd.arg("-n")
        .arg(&agent)
        .args([
            "-a",
            "pdu.fencebox-test.invalid",
            "-c",
            "private",
            "-n",
            "1",
        ])
        .args(["-o", "status"])
        .env("FENCEBOX_LOCK_DIR", sb.path("locks"))
        .env("FENCEBOX_AGENTS_DIR", sb.path("agents.d"))
        .env_remove("PCMK_service");
    let out = cmd
        .output()
        .expect("unshare (util-linux) runs the agent in a new network namespace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("unshare:"),
        "a network namespace needs root (tests/run-all.sh runs as root): {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("cannot resolve the address 'pdu.fencebox-test.invalid'")
            && lines[0].contains("check ip"),
        "{stderr}"
    );
}

/// validate-all lists every problem at once: the contract's (a seconds value that is not
/// a number) and the backend's (an IPMI cipher suite fencebox does not speak), without
/// contacting the device.
#[test]
fn validate_all_reports_contract_and_backend_problems_together() {
    let sb = Sandbox::new("validate-both");
    let out = sb.run(
        "fence_ipmilan",
        "action=validate-all\nip=127.0.0.1\nusername=admin\npassword=pw\npower_timeout=abc\ncipher=99\n",
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(
        lines[0].contains("power_timeout must be a whole number"),
        "{out:?}"
    );
    assert!(
        lines[1].contains("cipher must be an IPMI cipher suite"),
        "{out:?}"
    );
    assert!(lines[2].contains("validate-all failed"), "{out:?}");
}

/// Every problem at once: one of the contract's and two of the backend's (configured
/// during validation, not when the backend is opened), one line each.
#[test]
fn validate_all_reports_two_backend_problems_and_a_contract_problem() {
    let sb = Sandbox::new("validate-three");
    let out = sb.run(
        "fence_ipmilan",
        "action=validate-all\nip=127.0.0.1\nusername=admin\npassword=pw\npower_timeout=abc\ncipher=99\ntarget=xyz\n",
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert!(
        lines[0].contains("power_timeout must be a whole number"),
        "{out:?}"
    );
    assert!(
        lines[1].contains("cipher must be an IPMI cipher suite"),
        "{out:?}"
    );
    assert!(
        lines[2].contains("target must be an IPMB address"),
        "{out:?}"
    );
    assert!(lines[3].contains("validate-all failed"), "{out:?}");
}
