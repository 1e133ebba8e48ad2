//! Every action's stdout and exit code through the real binary on fence_dummy
//! (fence-agents protocol §3). Timeouts are exercised with FENCEBOX_DUMMY_IGNORE, which
//! makes the dummy device accept a request and not carry it out, like a stuck relay.

mod common;
use common::Sandbox;

const FAST: &str = "power_timeout=2\nstonith_status_sleep=0\n";

#[test]
fn status_on_off_and_unreadable() {
    let sb = Sandbox::new("status");
    sb.set_state("on");
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );

    sb.set_state("off");
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );

    // A missing file reads as off, as in fence-agents.
    std::fs::remove_file(sb.status_file()).unwrap();
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (2, "Status: OFF\n"),
        "{out:?}"
    );

    // Garbage in the file: not on, not off, so no answer at all.
    sb.set_state("maybe");
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("Unable to obtain correct plug status"),
        "{out:?}"
    );

    // A status file that exists but cannot be read is an error, never "off".
    let dir = sb.path("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let out = sb.run(
        "fence_dummy",
        &format!("action=status\nstatus_file={}", dir.display()),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
}

#[test]
fn monitor_is_silent_and_zero_even_when_off() {
    let sb = Sandbox::new("monitor");
    for state in ["on", "off"] {
        sb.set_state(state);
        let out = sb.run("fence_dummy", "action=monitor");
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{state}: {out:?}");
    }
    sb.set_state("garbage");
    let out = sb.run("fence_dummy", "action=monitor");
    assert_eq!(out.code, 1, "{out:?}");
}

/// A reader that closes stdout before the result line comes (a killed caller) makes the
/// write fail: the call exits 1 (nobody read a success), not killed by SIGPIPE, and the
/// log says that the off was done all the same (Debian's agent exits 1 here too).
#[test]
fn a_closed_stdout_fails_the_call_and_says_the_off_was_done() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let sb = Sandbox::new("closed-stdout");
    sb.set_state("on");
    let mut child = sb
        .command("fence_dummy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let stdin = sb.dummy_input(&format!("action=off\n{FAST}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (out.status.code(), out.status.signal()),
        (Some(1), None),
        "{stderr}"
    );
    assert!(
        stderr.contains("off was done and the device confirmed it")
            && stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(sb.state(), "off");
}

/// A caller that leaves stderr closed: the files and sockets the agent opens must not take
/// its place (the first one, the lock file, would collect the debug lines).
#[test]
fn closed_standard_descriptors_are_not_reused() {
    let sb = Sandbox::new("closed-fds");
    sb.set_state("on");
    let locks = sb.path("locks");
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "exec \"$0\" 2>&-"])
        .arg(sb.agent("fence_dummy"))
        .env("FENCEBOX_LOCK_DIR", &locks)
        .env("FENCEBOX_SYSLOG_SOCKET", sb.path("no-syslog"));
    let stdin = sb.dummy_input(&format!("action=off\nverbose=1\n{FAST}"));
    let out = common::finish(common::feed(&mut sh, stdin.as_bytes()));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{out:?}"
    );
    assert_eq!(sb.state(), "off");
    let mut seen = 0;
    for e in std::fs::read_dir(&locks).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert!(
            !text.contains("DEBUG") && !text.contains("Success"),
            "{text:?}"
        );
        seen += 1;
    }
    assert!(seen > 0, "the call took its lock in {}", locks.display());
}

#[test]
fn already_on_and_already_off() {
    let sb = Sandbox::new("already");
    sb.set_state("on");
    let out = sb.run("fence_dummy", "action=on");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Already ON\n"),
        "{out:?}"
    );
    sb.set_state("off");
    let out = sb.run("fence_dummy", "action=off");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Already OFF\n"),
        "{out:?}"
    );
}

#[test]
fn on_off_reboot_switch_and_confirm() {
    let sb = Sandbox::new("switch");
    sb.set_state("off");
    let out = sb.run("fence_dummy", "action=on");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered ON\n"),
        "{out:?}"
    );
    assert_eq!(sb.state(), "on");

    let out = sb.run("fence_dummy", "action=off");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{out:?}"
    );
    assert_eq!(sb.state(), "off");

    sb.set_state("on");
    let out = sb.run("fence_dummy", "action=reboot\nverbose=1");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert_eq!(sb.state(), "on");
    let off = out.stderr.find("confirmed off").expect("off confirmed");
    let on = out.stderr.find("confirmed on").expect("on confirmed");
    assert!(off < on, "off is confirmed before on: {out:?}");

    // Already off: reboot only powers on.
    sb.set_state("off");
    let out = sb.run("fence_dummy", "action=reboot\nverbose=1");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("switching off"), "{out:?}");
}

#[test]
fn default_action_is_reboot() {
    let sb = Sandbox::new("default-action");
    sb.set_state("on");
    // fence-agents does not know the old "option" key: it warns and reboots.
    let out = sb.run("fence_dummy", "option=status");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Ignoring unknown option 'option'"),
        "{out:?}"
    );
}

#[test]
fn reboot_whose_on_phase_fails_still_succeeds() {
    let sb = Sandbox::new("reboot-on-fails");
    sb.set_state("on");
    let out = sb.run_env(
        "fence_dummy",
        &format!("action=reboot\n{FAST}"),
        &[("FENCEBOX_DUMMY_IGNORE", "on")],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Timed out waiting to power ON"),
        "{out:?}"
    );
    assert_eq!(sb.state(), "off", "the node stays fenced");
}

#[test]
fn off_that_is_never_confirmed_fails() {
    let sb = Sandbox::new("off-timeout");
    sb.set_state("on");
    for action in ["off", "reboot"] {
        let out = sb.run_env(
            "fence_dummy",
            &format!("action={action}\n{FAST}"),
            &[("FENCEBOX_DUMMY_IGNORE", "off")],
        );
        assert_eq!(out.code, 1, "{action}: {out:?}");
        assert_eq!(out.stdout, "", "{action}: no success line: {out:?}");
        assert!(
            out.stderr
                .contains("Failed: Timed out waiting to power OFF"),
            "{out:?}"
        );
        assert_eq!(sb.state(), "on");
    }
}

#[test]
fn on_that_is_never_confirmed_fails() {
    let sb = Sandbox::new("on-timeout");
    sb.set_state("off");
    let out = sb.run_env(
        "fence_dummy",
        &format!("action=on\n{FAST}"),
        &[("FENCEBOX_DUMMY_IGNORE", "on")],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("Failed: Timed out waiting to power ON"),
        "{out:?}"
    );
}

/// `on` makes 1 + retry_on attempts, the on phase of a reboot retry_on attempts, each
/// polling power_timeout times (fence-agents protocol §3.3).
#[test]
fn retry_on_attempts_are_counted() {
    let sb = Sandbox::new("retry-on");
    let count = |out: &common::Out, s: &str| out.stderr.matches(s).count();
    for (retry_on, on_attempts, reboot_attempts) in [(0u32, 1usize, 0usize), (1, 2, 1), (3, 4, 3)] {
        sb.set_state("off");
        let out = sb.run_env(
            "fence_dummy",
            &format!("action=on\nretry_on={retry_on}\nverbose_level=2\n{FAST}"),
            &[("FENCEBOX_DUMMY_IGNORE", "on")],
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(
            count(&out, "switching on (attempt"),
            on_attempts,
            "on, retry_on={retry_on}: {out:?}"
        );
        assert_eq!(
            count(&out, "writing"),
            0,
            "the device ignored every request"
        );
        // One status read before, then power_timeout (2) reads per attempt.
        assert_eq!(count(&out, "holds 'off'"), 1 + 2 * on_attempts, "{out:?}");

        sb.set_state("on");
        let out = sb.run_env(
            "fence_dummy",
            &format!("action=reboot\nretry_on={retry_on}\nverbose_level=2\n{FAST}"),
            &[("FENCEBOX_DUMMY_IGNORE", "on")],
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(
            count(&out, "switching on (attempt"),
            reboot_attempts,
            "reboot, retry_on={retry_on}: {out:?}"
        );
    }
}

/// Seconds values far beyond any sensible limit are still whole numbers: Debian's agents
/// take them, and so do we, without overflowing the call's time budget (once a SIGABRT).
#[test]
fn the_largest_seconds_values_work() {
    let sb = Sandbox::new("huge-seconds");
    let max = "18446744073709551615";
    for extra in [
        format!("login_timeout={max}"),
        format!("shell_timeout={max}"),
        "power_timeout=3037000500\nstonith_status_sleep=3037000500".to_string(),
    ] {
        sb.set_state("on");
        let out = sb.run("fence_dummy", &format!("action=off\n{extra}"));
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Success: Powered OFF\n"),
            "{extra}: {out:?}"
        );
    }
    sb.set_state("on");
    let status = format!("--status-file={}", sb.status_file().display());
    let out = sb.run_args(
        "fence_dummy",
        &["-o", "status", &status, &format!("--shell-timeout={max}")],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
}

/// `on` makes 1 + retry_on attempts; the largest retry_on must not wrap to none at all.
#[test]
fn the_largest_retry_on_still_powers_on() {
    let sb = Sandbox::new("retry-on-max");
    for retry_on in ["4294967295", "18446744073709551615"] {
        sb.set_state("off");
        let out = sb.run("fence_dummy", &format!("action=on\nretry_on={retry_on}"));
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "Success: Powered ON\n"),
            "{retry_on}: {out:?}"
        );
        assert_eq!(sb.state(), "on");
    }
}

/// A plug named many times is one plug: switched once, read once per poll (32,700 copies
/// of one plug held the device for 41 s).
#[test]
fn repeated_plugs_are_switched_once() {
    let sb = Sandbox::new("repeated-plugs");
    sb.set_state("on");
    let plugs = vec!["1"; 5000].join(",");
    let out = sb.run(
        "fence_testshell",
        &format!("action=off\nip=127.0.0.1\nusername=u\npassword=p\nplug={plugs},2,1\nverbose_level=2\nstatus_file={}", sb.status_file().display()),
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{out:?}"
    );
    assert_eq!(out.stderr.matches("writing 'off'").count(), 2, "{out:?}");
}

#[test]
fn method_cycle_falls_back_to_off_and_on_without_a_cycle_command() {
    let sb = Sandbox::new("cycle");
    sb.set_state("on");
    let out = sb.run(
        "fence_testshell",
        &format!("action=reboot\nip=127.0.0.1\nusername=u\npassword=p\nplug=1\nmethod=cycle\nverbose=1\nstatus_file={}", sb.status_file().display()),
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(out.stderr.contains("no power cycle command"), "{out:?}");
    assert!(out.stderr.contains("confirmed off"), "{out:?}");
}

/// type=fail: status and monitor see a machine that is on (as Debian's fence_dummy), so
/// the device looks healthy until it is asked to fence; every switching action fails.
#[test]
fn type_fail_reads_on_and_fails_every_switch() {
    let sb = Sandbox::new("type-fail");
    let out = sb.run("fence_dummy", "action=status\ntype=fail");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let out = sb.run("fence_dummy", "action=monitor\ntype=fail");
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:?}");
    for action in ["on", "off", "reboot"] {
        let out = sb.run("fence_dummy", &format!("action={action}\ntype=fail"));
        assert_eq!(out.code, 1, "{action}: {out:?}");
        assert_eq!(out.stdout, "", "{action}");
        assert!(
            out.stderr.contains("You have to enter existing machine"),
            "{out:?}"
        );
    }
    assert!(
        !sb.status_file().exists(),
        "type=fail never writes the file"
    );
}

/// The status file is read only when it is a regular file, and only its first bytes: a
/// FIFO blocked the call for ever and /dev/zero grew it to gigabytes.
#[test]
fn status_file_must_be_a_small_regular_file() {
    let sb = Sandbox::new("status-file-kinds");
    let fifo = sb.path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let big = sb.path("big");
    std::fs::write(&big, format!("on{}", " ".repeat(100))).unwrap();
    for (file, action, says) in [
        ("/dev/zero".to_string(), "status", "not a regular file"),
        (fifo.display().to_string(), "status", "not a regular file"),
        (fifo.display().to_string(), "off", "not a regular file"),
        ("/dev/null".to_string(), "on", "not a regular file"),
        (big.display().to_string(), "status", "more than 64 bytes"),
    ] {
        let child = sb.spawn_env(
            "fence_dummy",
            &format!("action={action}\nstatus_file={file}"),
            &[],
        );
        let what = format!("{action} on {file}");
        let out = common::finish_within(child, std::time::Duration::from_secs(10), &what);
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{what}: {out:?}");
        assert!(out.stderr.contains(says), "{what}: {out:?}");
    }
    // Blanks around the word still fit.
    std::fs::write(&big, " on \n").unwrap();
    let out = sb.run(
        "fence_dummy",
        &format!("action=status\nstatus_file={}", big.display()),
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
}

#[test]
fn unrecognised_actions() {
    let sb = Sandbox::new("bad-action");
    // fence_dummy has no plugs, so it cannot list (as in fence-agents).
    for action in ["bogus", "list", "list-status", "start", "stop", "enable"] {
        let out = sb.run("fence_dummy", &format!("action={action}"));
        assert_eq!(out.code, 1, "{action}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("Failed: Unrecognised action '{action}'")),
            "{out:?}"
        );
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn metadata_aliases_and_case() {
    let sb = Sandbox::new("meta");
    let a = sb.run("fence_dummy", "action=metadata");
    let b = sb.run("fence_dummy", "action=meta-data\nbogus=1");
    let c = sb.run_args("fence_dummy", &["-o", "METADATA"]);
    assert_eq!(a.code, 0);
    assert!(a.stdout.contains("<resource-agent name=\"fence_dummy\""));
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
}

#[test]
fn validate_all_is_silent_on_success_and_lists_every_problem() {
    let sb = Sandbox::new("validate");
    let out = sb.run("fence_dummy", "action=validate-all");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", "")
    );
    let out = sb.run(
        "fence_testshell",
        "action=validate-all\npower_timeout=x\ndelay=-1",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    for problem in [
        "login name",
        "fence address",
        "password",
        "plug",
        "power_timeout",
        "delay",
        "validate-all failed",
    ] {
        assert!(out.stderr.contains(problem), "{problem}: {out:?}");
    }
    // validate-all never touches the device.
    assert!(!sb.status_file().exists());
}

/// The harness adds a status_file only for agents on the dummy backend: the others get
/// their stdin exactly, so that differential tests feed both agents the same input.
#[test]
fn other_agents_get_their_stdin_exactly() {
    let sb = Sandbox::new("exact-stdin");
    let out = sb.run(
        "fence_apc_snmp",
        "action=validate-all\nip=127.0.0.1\ncommunity=c\nplug=1",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(!sb.on_dummy_backend("fence_apc_snmp"));
    assert!(sb.on_dummy_backend("fence_dummy") && sb.on_dummy_backend("fence_testshell"));
}

#[test]
fn help_and_version() {
    let sb = Sandbox::new("help");
    let out = sb.run_args("fence_dummy", &["-h"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("--status-file=[file]"), "{out:?}");
    assert!(out.stdout.contains("-o, --action=[action]"), "{out:?}");
    let out = sb.run_args("fence_dummy", &["-V"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with(env!("CARGO_PKG_VERSION")), "{out:?}");
    let out = sb.run("fence_dummy", "help=1");
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Usage:"), "{out:?}");
}

#[test]
fn manpage_is_troff() {
    let sb = Sandbox::new("man");
    let out = sb.run_args("fence_dummy", &["-o", "manpage"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with(".TH FENCE_DUMMY 8"), "{out:?}");
    assert!(out.stdout.contains("status\\-file"), "{out:?}");
}
