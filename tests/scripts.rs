//! `password_script` through the real binary: it runs within login_timeout in a process
//! group of its own, a background process it leaves holding its output does not hold the
//! call, and fence_nut does not run it for actions that need no password.

mod common;
use common::Sandbox;
use std::time::{Duration, Instant};

const SHELL: &str = "ip=127.0.0.1\nusername=u\nplug=1\n";

/// Whether a process with exactly this command line (words split on blanks) exists.
fn running(cmdline: &str) -> bool {
    let want: Vec<u8> = cmdline
        .split(' ')
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want))
}

#[test]
fn a_background_process_holding_the_output_does_not_hold_the_call() {
    let sb = Sandbox::new("script-bg");
    sb.set_state("on");
    let input = format!("action=status\n{SHELL}password_script=sleep 1000 & echo pw-from-script");
    let out = common::finish_within(
        sb.spawn_env("fence_testshell", &input, &[]),
        Duration::from_secs(10),
        "background sleep",
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
}

#[test]
fn a_script_that_does_not_finish_is_stopped_at_login_timeout() {
    let sb = Sandbox::new("script-slow");
    sb.set_state("on");
    // A sleep no other test runs, to look for afterwards.
    let sleep = format!("sleep 1000.{}", std::process::id());
    for script in [
        // Prints the password, closes its output and lingers.
        format!("echo pw; exec >&-; {sleep}"),
        // Never prints anything.
        format!("{sleep}; echo pw"),
    ] {
        let input = format!("action=off\n{SHELL}login_timeout=1\npassword_script={script}");
        let t0 = Instant::now();
        let out = common::finish_within(
            sb.spawn_env("fence_testshell", &input, &[]),
            Duration::from_secs(10),
            &script,
        );
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (1, ""),
            "{script}: {out:?}"
        );
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert!(
            lines[0].contains("password_script did not finish within 1 s"),
            "{out:?}"
        );
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }
    assert_eq!(sb.state(), "on", "nothing reached the device");
    // The scripts' process groups were killed, their sleeps with them.
    let t0 = Instant::now();
    while running(&sleep) {
        assert!(t0.elapsed() < Duration::from_secs(3), "'{sleep}' survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn endless_output_is_refused() {
    let sb = Sandbox::new("script-yes");
    let input = format!("action=status\n{SHELL}password_script=yes");
    let out = common::finish_within(
        sb.spawn_env("fence_testshell", &input, &[]),
        Duration::from_secs(10),
        "yes",
    );
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr.contains("printed more than 65536 bytes"),
        "{out:?}"
    );
}

/// upsd checks the password only for instant commands: status and list of fence_nut
/// must not run password_script (a slow or failing script would break a monitor that
/// needs no password); validate-all and the switching actions do.
#[test]
#[cfg(feature = "interop")]
fn fence_nut_runs_password_script_only_to_switch() {
    let nut = common::nut();
    let sb = Sandbox::new("script-nut");
    let port = nut.port.to_string();
    let marker = sb.path("script-ran");
    let script = format!("touch {}; echo adminpass", marker.display());
    let base = [
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        "admin",
        "-S",
        &script,
        "--ups-name",
        "baytech",
    ];
    let out = sb.run_args(
        "fence_nut",
        &[&base[..], &["-n", "1", "-o", "status"]].concat(),
    );
    assert!(out.stdout.starts_with("Status: "), "{out:?}");
    let out = sb.run_args("fence_nut", &[&base[..], &["-o", "list"]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!marker.exists(), "status and list ran the password script");

    let out = sb.run_args(
        "fence_nut",
        &[&base[..], &["-n", "1", "-o", "validate-all"]].concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(marker.exists(), "validate-all checks the script");
}
