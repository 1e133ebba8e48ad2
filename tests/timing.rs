//! Time-related contract: `delay` before the first device contact (the one real-time
//! wait in the suite) and Pacemaker's disabling of the internal timeouts.

mod common;
use common::{stamped, Sandbox};
use std::time::{Duration, Instant, SystemTime};

/// Seconds since the epoch of an agent log timestamp `YYYY-MM-DD HH:MM:SS,micro` (UTC).
fn epoch_of(stamp: &str) -> f64 {
    let (date, time) = stamp.split_once(' ').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, micro) = time.split_once(',').unwrap();
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + micro.parse::<f64>().unwrap() / 1e6
}

#[test]
fn delay_comes_before_the_first_device_contact() {
    let sb = Sandbox::new("delay");
    sb.set_state("on");
    let started = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let t0 = Instant::now();
    let out = sb.run("fence_dummy", "action=off\ndelay=2\nverbose=1");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{out:?}"
    );
    let contact = stamped(&out.stderr, "device contact");
    assert_eq!(contact.len(), 1, "{out:?}");
    let contact_at = epoch_of(&contact[0]);
    assert!(
        contact_at - started >= 2.0,
        "first contact {:.3} s after start: {out:?}",
        contact_at - started
    );
    assert!(t0.elapsed() >= Duration::from_secs(2));
}

#[test]
fn delay_does_not_apply_to_status_or_on() {
    let sb = Sandbox::new("delay-status");
    sb.set_state("off");
    let t0 = Instant::now();
    let out = sb.run("fence_dummy", "action=status\ndelay=30");
    assert_eq!(out.code, 2, "{out:?}");
    let out = sb.run("fence_dummy", "action=on\ndelay=30");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "status and on do not wait"
    );
}

/// Under pacemaker-fenced the internal timeouts are off (Pacemaker's own action timeout
/// applies) unless disable_timeout says otherwise.
#[test]
fn pacemaker_disables_internal_timeouts() {
    let sb = Sandbox::new("pcmk");
    sb.set_state("on");
    let input = "action=off\npower_timeout=1\nstonith_status_sleep=1\nverbose=1";
    let stuck = [
        ("FENCEBOX_DUMMY_IGNORE", "off"),
        ("PCMK_service", "pacemaker-fenced"),
    ];

    // Without Pacemaker: gives up after power_timeout.
    let out = sb.run_env("fence_dummy", input, &stuck[..1]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("Timed out waiting to power OFF"));

    // Under Pacemaker: still waiting well past power_timeout.
    let mut child = sb.spawn_env("fence_dummy", input, &stuck);
    std::thread::sleep(Duration::from_secs(3));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let out = common::finish(child);
    assert!(
        still_running,
        "power_timeout must not apply under pacemaker-fenced: {out:?}"
    );
    assert!(out.stderr.contains("internal timeouts disabled"), "{out:?}");

    // Under Pacemaker with disable_timeout=0 the limits apply again.
    for no in ["0", "false", "no", "off"] {
        let out = sb.run_env(
            "fence_dummy",
            &format!("{input}\ndisable_timeout={no}"),
            &stuck,
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.contains("Timed out waiting to power OFF"),
            "{out:?}"
        );
    }

    // And disable_timeout=1 disables them without Pacemaker too.
    let mut child = sb.spawn_env(
        "fence_dummy",
        &format!("{input}\ndisable_timeout=true"),
        &stuck[..1],
    );
    std::thread::sleep(Duration::from_secs(3));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let _ = common::finish(child);
    assert!(still_running);
}

/// `delay` and fence_dummy's `random_sleep_range` are bounded (3600 s): larger values were
/// slept as given, u64::MAX for ever. They are refused at once with one line.
#[test]
fn absurd_delays_are_refused_not_slept() {
    let sb = Sandbox::new("delay-bound");
    sb.set_state("on");
    for (input, needle) in [
        (
            "action=off\ndelay=18446744073709551615",
            "delay must be at most 3600",
        ),
        ("action=reboot\ndelay=3601", "delay must be at most 3600"),
        (
            "action=status\nrandom_sleep_range=18446744073709551615",
            "random_sleep_range must be a whole number of seconds from 1 to 3600",
        ),
        (
            "action=off\nrandom_sleep_range=3601",
            "random_sleep_range must be a whole number of seconds from 1 to 3600",
        ),
    ] {
        let child = sb.spawn_env("fence_dummy", input, &[]);
        let out = common::finish_within(child, Duration::from_secs(10), input);
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{input}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{input}: {out:?}");
        assert!(lines[0].contains(needle), "{input}: {out:?}");
    }
    assert_eq!(sb.state(), "on", "nothing reached the device");

    // The bound itself is accepted (validate-all does not wait).
    let out = sb.run(
        "fence_dummy",
        "action=validate-all\ndelay=3600\nrandom_sleep_range=3600",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    let help = sb.run_args("fence_dummy", &["-h"]);
    assert!(help.stdout.contains("(at most 3600)"), "{help:?}");
}
