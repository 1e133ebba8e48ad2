//! Per-device serialisation through the real binary: calls through one device never
//! overlap, calls to different devices do, readers share, and a killed holder frees the
//! device at once. Each call's debug_file records when its device session started and
//! ended (microsecond timestamps, which order as strings).

mod common;
use common::{session, Sandbox};
use std::time::{Duration, Instant};

fn wait_for(path: &std::path::Path, needle: &str, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn twenty_concurrent_reboots_of_one_device_never_overlap() {
    let sb = Sandbox::new("lock-20");
    sb.set_state("on");
    let children: Vec<_> = (0..20)
        .map(|i| {
            let log = sb.path(&format!("call-{i}.log"));
            sb.spawn_env(
                "fence_dummy",
                &format!("action=reboot\ndebug_file={}", log.display()),
                &[],
            )
        })
        .collect();
    common::expect_all(children, 0, "Success: Rebooted\n");
    let logs: Vec<_> = (0..20).map(|i| sb.path(&format!("call-{i}.log"))).collect();
    common::assert_sessions_disjoint(&logs);
    assert_eq!(sb.state(), "on");
}

#[test]
fn calls_to_different_devices_run_in_parallel() {
    let sb = Sandbox::new("lock-two");
    let (a, b) = (sb.path("a.status"), sb.path("b.status"));
    let spawn = |file: &std::path::Path, log: &str| {
        std::fs::write(file, "on").unwrap();
        sb.spawn_env(
            "fence_dummy",
            &format!(
                "action=reboot\nrandom_sleep_range=1\nstatus_file={}\ndebug_file={}",
                file.display(),
                sb.path(log).display()
            ),
            &[],
        )
    };
    let (ca, cb) = (spawn(&a, "a.log"), spawn(&b, "b.log"));
    for c in [ca, cb] {
        let out = common::finish(c);
        assert_eq!(out.code, 0, "{out:?}");
    }
    let sa = session(&std::fs::read_to_string(sb.path("a.log")).unwrap());
    let sb_ = session(&std::fs::read_to_string(sb.path("b.log")).unwrap());
    assert!(
        sa.0 < sb_.1 && sb_.0 < sa.1,
        "two devices must not wait for each other: {sa:?} {sb_:?}"
    );
}

#[test]
fn readers_share_a_device_but_not_with_a_writer() {
    let sb = Sandbox::new("lock-shared");
    sb.set_state("on");
    let spawn = |action: &str, log: &str| {
        sb.spawn_env(
            "fence_dummy",
            &format!(
                "action={action}\nrandom_sleep_range=1\ndebug_file={}",
                sb.path(log).display()
            ),
            &[],
        )
    };
    let (r1, r2) = (spawn("status", "r1.log"), spawn("monitor", "r2.log"));
    for c in [r1, r2] {
        assert!(common::finish(c).code == 0);
    }
    let s1 = session(&std::fs::read_to_string(sb.path("r1.log")).unwrap());
    let s2 = session(&std::fs::read_to_string(sb.path("r2.log")).unwrap());
    assert!(s1.0 < s2.1 && s2.0 < s1.1, "readers share: {s1:?} {s2:?}");

    let (w, r) = (spawn("reboot", "w.log"), spawn("status", "r3.log"));
    for c in [w, r] {
        assert!(common::finish(c).code == 0);
    }
    let sw = session(&std::fs::read_to_string(sb.path("w.log")).unwrap());
    let s3 = session(&std::fs::read_to_string(sb.path("r3.log")).unwrap());
    assert!(
        sw.1 < s3.0 || s3.1 < sw.0,
        "a reboot excludes readers: {sw:?} {s3:?}"
    );
}

/// A call holding the device for a long time: an off the device never confirms.
fn spawn_holder(sb: &Sandbox, log: &std::path::Path) -> std::process::Child {
    sb.spawn_env(
        "fence_dummy",
        &format!(
            "action=off\npower_timeout=120\nstonith_status_sleep=1\ndebug_file={}",
            log.display()
        ),
        &[("FENCEBOX_DUMMY_IGNORE", "off")],
    )
}

#[test]
fn a_killed_holder_lets_the_next_caller_in_promptly() {
    let sb = Sandbox::new("lock-kill");
    sb.set_state("on");
    let holder_log = sb.path("holder.log");
    let mut holder = spawn_holder(&sb, &holder_log);
    assert!(
        wait_for(&holder_log, "device session start", Duration::from_secs(10)),
        "holder never started"
    );

    let waiter_log = sb.path("waiter.log");
    let mut waiter = sb.spawn_env(
        "fence_dummy",
        &format!("action=reboot\ndebug_file={}", waiter_log.display()),
        &[],
    );
    assert!(
        wait_for(&waiter_log, "waiting for device", Duration::from_secs(10)),
        "waiter did not wait"
    );
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "the waiter must wait while the holder lives"
    );
    let log = std::fs::read_to_string(&waiter_log).unwrap();
    assert!(
        log.contains(&format!("in use by pid {}", holder.id())),
        "says for whom it waits: {log}"
    );

    holder.kill().unwrap(); // SIGKILL: no chance to clean up
    let killed_at = Instant::now();
    let _ = holder.wait();
    let out = common::finish(waiter);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(2),
        "took {:?} after the kill",
        killed_at.elapsed()
    );
}

#[test]
fn waiting_for_the_lock_times_out_within_the_budget() {
    let sb = Sandbox::new("lock-timeout");
    sb.set_state("on");
    let holder_log = sb.path("holder.log");
    let mut holder = spawn_holder(&sb, &holder_log);
    assert!(wait_for(
        &holder_log,
        "device session start",
        Duration::from_secs(10)
    ));
    let t = Instant::now();
    // Budget: login 1 + shell 1 + 2 x (power_timeout 1 + the last poll's 1 s) = 6 s.
    let out = sb.run(
        "fence_dummy",
        "action=reboot\npower_timeout=1\nlogin_timeout=1\nshell_timeout=1\nstonith_status_sleep=1",
    );
    let took = t.elapsed();
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("timed out"),
        "Pacemaker maps 'timed out' to ETIME: {out:?}"
    );
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(8),
        "took {took:?}"
    );
    assert_eq!(sb.state(), "on", "the waiter never touched the device");
}

/// The lock directory of a sandbox after one call through its dummy device: the lock
/// file and the turnstile exist, named as fencebox names them.
fn lock_entries(sb: &Sandbox) -> Vec<std::path::PathBuf> {
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(out.code, 0, "{out:?}");
    let mut v: Vec<_> = std::fs::read_dir(sb.path("locks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no lock file was made");
    v
}

/// A refused call: exit 1, nothing on stdout, one line naming `what`, device untouched.
fn assert_refused(sb: &Sandbox, out: &common::Out, what: &str) {
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(
        out.stderr_lines().iter().any(|l| l.contains(what)),
        "one line naming {what}: {out:?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    assert_eq!(sb.state(), "on", "the device was not touched");
}

#[test]
fn a_symlink_in_the_lock_dir_is_refused_and_its_target_left_alone() {
    let sb = Sandbox::new("lock-symlink");
    sb.set_state("on");
    let entries = lock_entries(&sb);
    let victim = sb.path("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    for e in &entries {
        std::fs::remove_file(e).unwrap();
        std::os::unix::fs::symlink(&victim, e).unwrap();
    }
    let out = sb.run("fence_dummy", "action=off");
    assert_refused(&sb, &out, "is a symbolic link");
    assert!(
        out.stderr.contains(&entries[0].display().to_string()),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");

    // A link to a file that does not exist yet must not create it either.
    let absent = sb.path("absent");
    for e in &entries {
        std::fs::remove_file(e).unwrap();
        std::os::unix::fs::symlink(&absent, e).unwrap();
    }
    let out = sb.run("fence_dummy", "action=off");
    assert_refused(&sb, &out, "is a symbolic link");
    assert!(!absent.exists(), "the call created the link's target");
}

#[test]
fn a_lock_dir_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new("lock-dirmode");
    sb.set_state("on");
    let dir = sb.path("locks");
    for mode in [0o777, 0o1777, 0o775] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = sb.run("fence_dummy", "action=off");
        assert_refused(&sb, &out, &dir.display().to_string());
        assert!(
            out.stderr.contains("writable by group or others"),
            "{out:?}"
        );
    }
    // The sandbox's own directory (0755, this user's, under the 1777 /tmp) is accepted.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sb.run("fence_dummy", "action=status");
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_lock_dir_that_is_a_symlink_is_refused() {
    let sb = Sandbox::new("lock-dirlink");
    sb.set_state("on");
    let link = sb.path("locks-link");
    std::os::unix::fs::symlink(sb.path("locks"), &link).unwrap();
    let out = sb.run_env(
        "fence_dummy",
        "action=off",
        &[("FENCEBOX_LOCK_DIR", link.to_str().unwrap())],
    );
    assert_refused(&sb, &out, &link.display().to_string());
    assert!(out.stderr.contains("symbolic link"), "{out:?}");
}

#[test]
fn a_lock_dir_of_another_user_is_refused() {
    let sb = Sandbox::new("lock-owner");
    sb.set_state("on");
    let dir = sb.path("locks");
    // Handing a directory to another user needs root; as anyone else there is no such
    // directory to make, and nothing to test.
    if std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).is_err() {
        eprintln!("skipped: not root, cannot give {} away", dir.display());
        return;
    }
    let out = sb.run("fence_dummy", "action=off");
    assert_refused(&sb, &out, &dir.display().to_string());
    assert!(out.stderr.contains("belongs to uid 65534"), "{out:?}");
}

#[test]
fn a_missing_lock_dir_is_created_0755_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new("lock-create");
    sb.set_state("on");
    let dir = sb.path("new/locks");
    // The agent started through sh, under a umask that would take group and other bits.
    let agent = sb.command("fence_dummy");
    let mut c = std::process::Command::new("sh");
    c.args(["-c", "umask 077; exec \"$0\""])
        .arg(agent.get_program());
    for (k, v) in agent.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.env("FENCEBOX_LOCK_DIR", &dir);
    let out = common::finish(common::feed(
        &mut c,
        sb.dummy_input("action=reboot").as_bytes(),
    ));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755, "lock directory mode {mode:o}");
}

#[test]
fn a_writer_gets_in_behind_a_stream_of_readers() {
    let sb = Sandbox::new("lock-stream");
    sb.set_state("on");
    // Readers that each hold the device for 1 s, a new one every 250 ms for 7 s: there
    // is never a moment without a reader.
    let reader = |i: usize| {
        sb.spawn_env(
            "fence_dummy",
            &format!(
                "action=status\nrandom_sleep_range=1\ndebug_file={}",
                sb.path(&format!("r{i}.log")).display()
            ),
            &[],
        )
    };
    let mut readers = vec![reader(0)];
    assert!(wait_for(
        &sb.path("r0.log"),
        "device session start",
        Duration::from_secs(10)
    ));
    let mut writer = None;
    let stream = Instant::now();
    for i in 1..28 {
        std::thread::sleep(Duration::from_millis(250));
        readers.push(reader(i));
        if i == 4 {
            // Budget: login 1 + shell 1 + 2 x (power_timeout 1 + the last poll's 1 s) = 6 s.
            writer = Some(sb.spawn_env(
                "fence_dummy",
                &format!(
                    "action=reboot\npower_timeout=1\nlogin_timeout=1\nshell_timeout=1\n\
                     stonith_status_sleep=1\ndebug_file={}",
                    sb.path("w.log").display()
                ),
                &[],
            ));
        }
    }
    let streamed = stream.elapsed();
    let out = common::finish(writer.unwrap());
    for r in readers {
        let o = common::finish(r);
        assert!(o.code == 0 || o.code == 2, "a reader failed: {o:?}");
    }
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "the writer must not starve behind readers: {out:?}"
    );
    // "device session start: ... waited 0.812 s)"
    let log = std::fs::read_to_string(sb.path("w.log")).unwrap();
    let waited: f64 = log
        .split("waited ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in the writer's log:\n{log}"));
    assert!(
        waited < 2.5,
        "waited {waited} s, the reader stream lasted {streamed:?}"
    );
}

#[test]
fn waiters_get_the_device_in_the_order_they_came() {
    let sb = Sandbox::new("lock-order");
    sb.set_state("on");
    let holder_log = sb.path("holder.log");
    let mut holder = spawn_holder(&sb, &holder_log);
    assert!(wait_for(
        &holder_log,
        "device session start",
        Duration::from_secs(10)
    ));
    let logs: Vec<_> = (0..4).map(|i| sb.path(&format!("w{i}.log"))).collect();
    let mut waiters = Vec::new();
    for log in &logs {
        waiters.push(sb.spawn_env(
            "fence_dummy",
            &format!("action=reboot\ndebug_file={}", log.display()),
            &[],
        ));
        assert!(wait_for(log, "waiting for device", Duration::from_secs(10)));
        // From "waiting" to really being in line is a moment more.
        std::thread::sleep(Duration::from_millis(200));
    }
    holder.kill().unwrap();
    let _ = holder.wait();
    common::expect_all(waiters, 0, "Success: Rebooted\n");
    let starts: Vec<_> = logs
        .iter()
        .map(|l| session(&std::fs::read_to_string(l).unwrap()).0)
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "served out of order: {starts:?}");
}

#[test]
fn a_waiter_gives_up_when_the_rest_of_its_budget_is_spent() {
    let sb = Sandbox::new("lock-rest");
    sb.set_state("on");
    let holder_log = sb.path("holder.log");
    let mut holder = spawn_holder(&sb, &holder_log);
    assert!(wait_for(
        &holder_log,
        "device session start",
        Duration::from_secs(10)
    ));
    let t = Instant::now();
    // Budget 6 s (as above), of which the delay takes 2: the lock wait gets the other 4.
    let out = sb.run(
        "fence_dummy",
        "action=reboot\ndelay=2\npower_timeout=1\nlogin_timeout=1\nshell_timeout=1\nstonith_status_sleep=1",
    );
    let took = t.elapsed();
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("timed out"), "{out:?}");
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_millis(7500),
        "the whole budget is 6 s, delay included; took {took:?}"
    );
    assert_eq!(sb.state(), "on", "the waiter never touched the device");
}

#[test]
fn fencebox_locks_names_the_holder_and_the_waiter() {
    let sb = Sandbox::new("lock-list");
    sb.set_state("on");
    let locks = || {
        let out = sb.command("fencebox").arg("locks").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(locks(), "no device lock is held or waited for\n");
    let holder_log = sb.path("holder.log");
    let mut holder = spawn_holder(&sb, &holder_log);
    assert!(wait_for(
        &holder_log,
        "device session start",
        Duration::from_secs(10)
    ));
    let waiter_log = sb.path("waiter.log");
    let mut waiter = sb.spawn_env(
        "fence_dummy",
        &format!("action=reboot\ndebug_file={}", waiter_log.display()),
        &[],
    );
    assert!(wait_for(
        &waiter_log,
        "waiting for device",
        Duration::from_secs(10)
    ));
    let listed = locks();
    let device = format!("dummy:{}", sb.status_file().display());
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[0].starts_with("DEVICE") && lines[0].ends_with("SCOPE  STATE  CALL"),
        "{listed}"
    );
    assert!(
        lines[1].starts_with(&device)
            && lines[1].contains(&format!(
                "  local  holds  pid {} (fence_dummy off) since ",
                holder.id()
            )),
        "{listed}"
    );
    assert!(
        lines[2].starts_with(&device)
            && lines[2].ends_with(&format!(
                "  local  waits  pid {} (fence_dummy)",
                waiter.id()
            )),
        "{listed}"
    );
    let json = sb
        .command("fencebox")
        .args(["locks", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["locks"][0]["device"], device.as_str());
    assert_eq!(doc["locks"][1]["state"], "waits");
    holder.kill().unwrap();
    let _ = holder.wait();
    assert_eq!(waiter.wait().unwrap().code(), Some(0));
    assert_eq!(locks(), "no device lock is held or waited for\n");
}

#[test]
fn a_bad_site_file_fails_locking_calls_with_one_line_and_spares_metadata() {
    let sb = Sandbox::new("lock-site");
    sb.set_state("on");
    std::fs::write(sb.path("fencebox.toml"), "[locks]\nbackend = \"etcd\"\n").unwrap();
    let out = sb.run("fence_dummy", "action=on");
    assert_eq!(out.code, 1, "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("Failed: ")
            && lines[0].contains("fencebox.toml: [locks] backend = \"etcd\" needs endpoints"),
        "{out:?}"
    );
    let meta = sb.run_args("fence_dummy", &["-o", "metadata"]);
    assert_eq!(meta.code, 0, "{meta:?}");
    let listed = sb.command("fencebox").arg("locks").output().unwrap();
    assert_eq!(listed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&listed.stderr).contains("needs endpoints"));
}
