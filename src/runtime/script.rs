//! Running an administrator's command for its output (the `*_script` options): `/bin/sh -c`
//! in a process group of its own, standard output read against a deadline, and the whole
//! group killed when it runs over, so that neither a slow script nor a background process
//! it leaves holding the output open can hold up a fencing call.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::runtime::clock::{Clock, Deadline};

/// Why a script gave no usable output.
#[derive(Debug, PartialEq, Eq)]
pub enum ScriptError {
    /// /bin/sh could not be started.
    Start(String),
    /// Still running, or its output still open, at the deadline; its group was killed.
    TimedOut,
    /// Printed more than the allowed number of bytes; its group was killed.
    TooLong,
    /// Reading its output or waiting for it failed.
    Io(String),
}

/// What a finished script left: how it ended and everything it printed.
#[derive(Debug)]
pub struct ScriptOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
}

/// How often the exit status is checked while the output is awaited.
const TICK: Duration = Duration::from_millis(10);
/// How long the output may stay open after the script itself exited (a background process
/// inherited it) before what is left of its process group is stopped.
const LINGER: Duration = Duration::from_millis(200);

/// Run `cmd` and take its standard output once it has both exited and closed its output,
/// within `limit` by `clock`; at most `max_output` bytes. Standard error goes to ours.
pub fn run(
    cmd: &str,
    limit: Duration,
    max_output: usize,
    clock: &dyn Clock,
) -> Result<ScriptOutput, ScriptError> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| ScriptError::Start(e.to_string()))?;
    let output = read_in_background(&mut child, max_output);
    let result = wait(
        &mut child,
        &output,
        Deadline::after(clock, limit),
        max_output,
        clock,
    );
    if result.is_err() {
        stop(&mut child);
    }
    result
}

/// A thread reads the output to its end (or one byte past the limit) and sends it.
fn read_in_background(child: &mut Child, max_output: usize) -> Receiver<Result<Vec<u8>, String>> {
    let (tx, rx) = mpsc::channel();
    match child.stdout.take() {
        Some(out) => {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let limit = u64::try_from(max_output)
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                let r = out.take(limit).read_to_end(&mut buf).map(|_| buf);
                let _ = tx.send(r.map_err(|e| e.to_string()));
            });
        }
        None => {
            let _ = tx.send(Err("no output pipe".into()));
        }
    }
    rx
}

/// The loop of `run`: until exit and end of output, the deadline, or too much output.
fn wait(
    child: &mut Child,
    output: &Receiver<Result<Vec<u8>, String>>,
    deadline: Deadline,
    max_output: usize,
    clock: &dyn Clock,
) -> Result<ScriptOutput, ScriptError> {
    let group = child.id();
    let mut status: Option<ExitStatus> = None;
    let mut exited_at: Option<Duration> = None;
    let mut stdout: Option<Vec<u8>> = None;
    let mut stopped_lingerers = false;
    loop {
        if status.is_none() {
            status = child
                .try_wait()
                .map_err(|e| ScriptError::Io(e.to_string()))?;
            if status.is_some() {
                exited_at = Some(clock.elapsed());
            }
        }
        if stdout.is_none() {
            let mut got = Err(RecvTimeoutError::Timeout);
            clock.block(TICK, &mut |t| {
                got = output.recv_timeout(t);
                got.is_ok()
            });
            match got {
                Ok(Ok(bytes)) if bytes.len() > max_output => return Err(ScriptError::TooLong),
                Ok(Ok(bytes)) => stdout = Some(bytes),
                Ok(Err(e)) => return Err(ScriptError::Io(e)),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ScriptError::Io("the output reader ended".into()))
                }
            }
        } else {
            clock.sleep(TICK);
        }
        if let (Some(status), Some(stdout)) = (status, stdout.as_ref()) {
            return Ok(ScriptOutput {
                status,
                stdout: stdout.clone(),
            });
        }
        if deadline.left(clock).is_none() {
            return Err(ScriptError::TimedOut);
        }
        // The script is done but something it started keeps the output open: what the
        // script printed is in the pipe already; stopping the rest of its group ends it.
        let lingered = |t: Duration| clock.elapsed().saturating_sub(t) >= LINGER;
        if !stopped_lingerers && exited_at.is_some_and(lingered) {
            log_debug!(
                1,
                "the script exited but a process it started keeps its output open; stopping its process group"
            );
            kill_group(group);
            stopped_lingerers = true;
        }
    }
}

/// Kill the script's process group and reap the script.
fn stop(child: &mut Child) {
    kill_group(child.id());
    let _ = child.wait();
}

/// SIGKILL to process group `group` (the script's pid: it leads its own group). The library
/// has no unsafe code, so the shell's kill builtin sends it.
fn kill_group(group: u32) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg("kill -s KILL -- \"-$0\" 2>/dev/null")
        .arg(group.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::clock::{FakeClock, RealClock};
    use std::time::Instant;

    const LIMIT: Duration = Duration::from_secs(5);

    fn real(cmd: &str, limit: Duration, max: usize) -> Result<ScriptOutput, ScriptError> {
        run(cmd, limit, max, &RealClock::started_at(Instant::now()))
    }

    #[test]
    fn a_hanging_script_is_stopped_at_its_limit_by_the_calls_clock() {
        let clock = FakeClock::default();
        let t0 = Instant::now();
        let r = run("sleep 1000", Duration::from_secs(30), 100, &clock);
        assert_eq!(r.unwrap_err(), ScriptError::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        // Polled every tick until the limit, and not one tick more.
        assert_eq!(clock.elapsed(), Duration::from_secs(30));
        assert_eq!(clock.waits().len(), 3000);
    }

    #[test]
    fn output_and_status_of_a_plain_script() {
        let out = real("echo secret; exit 3", LIMIT, 100).unwrap();
        assert_eq!(
            (out.status.code(), out.stdout),
            (Some(3), b"secret\n".to_vec())
        );
    }

    #[test]
    fn a_background_process_holding_the_output_does_not_hold_the_call() {
        let t0 = Instant::now();
        let out = real("sleep 1000 & echo secret", LIMIT, 100).unwrap();
        assert_eq!(out.stdout, b"secret\n");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    }

    #[test]
    fn a_script_that_closes_its_output_and_lingers_is_stopped_at_the_deadline() {
        let t0 = Instant::now();
        let r = real(
            "echo secret; exec >&-; sleep 1000",
            Duration::from_secs(1),
            100,
        );
        assert_eq!(r.unwrap_err(), ScriptError::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    }

    #[test]
    fn too_much_output_is_refused() {
        let r = real("yes", LIMIT, 1000);
        assert_eq!(r.unwrap_err(), ScriptError::TooLong);
    }

    #[test]
    fn the_whole_group_is_killed_at_the_deadline() {
        let dir = std::env::temp_dir().join(format!("fencebox-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("bg.pid");
        let cmd = format!("sleep 1000 & echo $! > {}; wait", pidfile.display());
        assert_eq!(
            real(&cmd, Duration::from_secs(1), 100).unwrap_err(),
            ScriptError::TimedOut
        );
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        // Killed and, with its parent gone, reaped by init: no such process any more.
        let t0 = Instant::now();
        while std::path::Path::new(&format!("/proc/{}/cmdline", pid.trim())).exists()
            && std::fs::read_to_string(format!("/proc/{}/cmdline", pid.trim()))
                .is_ok_and(|c| c.starts_with("sleep"))
        {
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "sleep {pid} survived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
