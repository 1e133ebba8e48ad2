//! Device shells, hermetic: a site agent file with a `[shell]` dialogue, driving an
//! in-process telnet "device" that can misbehave the ways real ones do (stop answering
//! mid-dialogue, never show its prompt, hang up after the login, print a megabyte without
//! a prompt, refuse the password, print a state nobody knows). Whatever it does, fencebox
//! ends in bounded time, exits 1 with one clear line, never panics and never says Success.

mod common;
use common::{Out, Sandbox};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AGENT: &str = r#"
name = "fence_fakeshell"
shortdesc = "A test device with a shell"
longdesc = "Used by tests/hermetic_shell.rs only."
backend = "shell"
device_opt = ["ipaddr", "login", "passwd", "cmd_prompt", "secure", "port", "telnet_path"]

[shell]
prompt = ['fake> $']
plug = '\d+'
plug_form = "as outlet numbers"

[shell.login]
user_prompt = 'User Name : $'
password_prompt = 'Password  : $'
refused = 'Access denied'

[shell.status]
steps = [{ send = "status {plug}" }]
rules = [
  { pattern = '^state: on$', means = "on" },
  { pattern = '^state: off$', means = "off" },
  { pattern = 'no such outlet', means = "missing" },
]

[[shell.on]]
send = "on {plug}"
expect = [{ pattern = 'Really\? \(YES/no\)', reply = "YES" }]

[[shell.off]]
send = "off {plug}"
expect = [{ pattern = 'Really\? \(YES/no\)', reply = "YES" }]

[shell.list]
steps = [{ send = "list" }]
after = '^Outlet\s+State'
row = '^\s*(?P<id>\d+)\s+(?P<state>\S+)\s*$'
on = '^on$'
off = '^off$'

[[shell.logout]]
send = "quit"
wait = false
"#;

/// How the fake device behaves.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    None,
    /// Logs in, then never answers a command.
    SilentAfterLogin,
    /// Logs in but never shows the command prompt.
    NoPrompt,
    /// Hangs up right after the login.
    HangUpAfterLogin,
    /// Answers the first command with 1 MB and no prompt.
    Flood,
    /// Says "state: maybe".
    StrangeState,
}

const PASSWORD: &str = "s3cret-fake-pw";

struct FakeDevice {
    port: u16,
    /// Outlets 1..=4 and their states.
    outlets: Arc<Mutex<Vec<bool>>>,
    received: Arc<Mutex<Vec<String>>>,
}

impl FakeDevice {
    fn start(fault: Fault) -> FakeDevice {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let outlets = Arc::new(Mutex::new(vec![true, false, true, false]));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (o, r) = (outlets.clone(), received.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (o, r) = (o.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, fault, &o, &r);
                });
            }
        });
        FakeDevice {
            port,
            outlets,
            received,
        }
    }

    fn stdin(&self, extra: &str) -> String {
        format!(
            "ip=127.0.0.1\nipport={}\nusername=admin\npassword={PASSWORD}\nlogin_timeout=2\nshell_timeout=2\npower_timeout=4\npower_wait=0\n{extra}",
            self.port
        )
    }

    fn state(&self, outlet: usize) -> bool {
        self.outlets.lock().unwrap()[outlet - 1]
    }

    fn commands(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    conn: TcpStream,
    fault: Fault,
    outlets: &Mutex<Vec<bool>>,
    received: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    let mut line = String::new();
    let mut read = |lines: &mut BufReader<TcpStream>| -> std::io::Result<Option<String>> {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim().to_string()))
    };
    loop {
        out.write_all(b"\r\nUser Name : ")?;
        let Some(_user) = read(&mut lines)? else {
            return Ok(());
        };
        out.write_all(b"Password  : ")?;
        let Some(pw) = read(&mut lines)? else {
            return Ok(());
        };
        if pw == PASSWORD {
            break;
        }
        // A device that echoes what it is sent, the password included, in its refusal.
        out.write_all(format!("\r\nAccess denied for '{pw}'\r\n").as_bytes())?;
    }
    match fault {
        Fault::HangUpAfterLogin => return Ok(()),
        Fault::NoPrompt => {
            out.write_all(b"\r\nWelcome\r\n")?;
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        _ => {}
    }
    out.write_all(b"\r\nfake> ")?;
    while let Some(cmd) = read(&mut lines)? {
        received.lock().unwrap().push(cmd.clone());
        out.write_all(format!("{cmd}\r\n").as_bytes())?; // echo
        if fault == Fault::SilentAfterLogin {
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        if fault == Fault::Flood {
            let junk = vec![b'x'; 64 * 1024];
            for _ in 0..17 {
                out.write_all(&junk)?;
            }
            std::thread::sleep(Duration::from_secs(10));
            return Ok(());
        }
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let outlet = |w: Option<&&str>| {
            w.and_then(|n| n.parse::<usize>().ok())
                .filter(|n| (1..=4).contains(n))
        };
        match words.as_slice() {
            ["status", n] => match (outlet(Some(n)), fault) {
                (Some(_), Fault::StrangeState) => out.write_all(b"state: maybe\r\n")?,
                (Some(i), _) => {
                    let on = outlets.lock().unwrap()[i - 1];
                    out.write_all(if on {
                        b"state: on\r\n"
                    } else {
                        b"state: off\r\n"
                    })?
                }
                (None, _) => out.write_all(b"Error: no such outlet\r\n")?,
            },
            [verb @ ("on" | "off"), n] => {
                out.write_all(b"Really? (YES/no) ")?;
                let Some(answer) = read(&mut lines)? else {
                    return Ok(());
                };
                received.lock().unwrap().push(answer.clone());
                if let (Some(i), "YES") = (outlet(Some(n)), answer.as_str()) {
                    outlets.lock().unwrap()[i - 1] = *verb == "on";
                }
                out.write_all(b"\r\nDone\r\n")?;
            }
            ["list"] => {
                out.write_all(b"Outlet  State\r\n------  -----\r\n")?;
                let all = outlets.lock().unwrap().clone();
                for (i, on) in all.iter().enumerate() {
                    let s = if *on { "on" } else { "off" };
                    out.write_all(format!("  {}     {s}\r\n", i + 1).as_bytes())?;
                }
            }
            ["quit"] => return Ok(()),
            _ => out.write_all(b"Unknown command\r\n")?,
        }
        out.write_all(b"fake> ")?;
    }
    Ok(())
}

fn sandbox(tag: &str) -> Sandbox {
    let sb = Sandbox::new(tag);
    std::fs::write(sb.path("agents.d").join("fence_fakeshell.toml"), AGENT).unwrap();
    sb
}

fn run(sb: &Sandbox, stdin: &str) -> (Out, Duration) {
    let started = Instant::now();
    let out = sb.run("fence_fakeshell", stdin);
    (out, started.elapsed())
}

#[test]
fn status_on_off_and_list_through_the_dialogue() {
    let dev = FakeDevice::start(Fault::None);
    let sb = sandbox("shell-ok");
    let (out, _) = run(&sb, &dev.stdin("plug=1\naction=status\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Status: ON\n"),
        "{out:?}"
    );
    let (out, _) = run(&sb, &dev.stdin("plug=1\naction=off\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{out:?}"
    );
    assert!(!dev.state(1));
    assert!(
        dev.commands().contains(&"YES".to_string()),
        "the question was answered"
    );
    let (out, _) = run(&sb, &dev.stdin("plug=2\naction=reboot\n"));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{out:?}"
    );
    assert!(dev.state(2));
    let (out, _) = run(&sb, &dev.stdin("action=list-status\n"));
    assert_eq!(out.stdout, "1,,off\n2,,on\n3,,on\n4,,off\n", "{out:?}");
}

#[test]
fn an_unknown_outlet_and_a_plug_of_another_form_are_errors_not_off() {
    let dev = FakeDevice::start(Fault::None);
    let sb = sandbox("shell-unknown");
    let (out, _) = run(&sb, &dev.stdin("plug=9\naction=off\n"));
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("plug not found"), "{out:?}");
    let (out, _) = run(&sb, &dev.stdin("plug=abc\naction=status\n"));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("write plugs as outlet numbers"),
        "{out:?}"
    );
    assert!(
        !dev.commands().iter().any(|c| c.contains("abc")),
        "a malformed plug reached the device: {:?}",
        dev.commands()
    );
}

#[test]
fn a_wrong_password_is_refused_at_once_and_never_logged() {
    let dev = FakeDevice::start(Fault::None);
    let sb = sandbox("shell-wrongpw");
    let wrong = "wrong-pw-9876";
    let stdin = dev
        .stdin("plug=1\naction=status\nverbose_level=3\n")
        .replace(PASSWORD, wrong);
    let (out, took) = run(&sb, &stdin);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to connect/login to fencing device"),
        "{out:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(
        !out.stderr.contains(wrong),
        "the password (echoed by the device) was logged: {out:?}"
    );
}

fn assert_failed_in_time(fault: Fault, action: &str, words: &str, limit: Duration) {
    let dev = FakeDevice::start(fault);
    let sb = sandbox("shell-fault");
    let (out, took) = run(&sb, &dev.stdin(&format!("plug=1\naction={action}\n")));
    assert_eq!(out.code, 1, "{fault:?}: {out:?}");
    assert!(
        !out.stdout.contains("Success") && !out.stdout.contains("Status"),
        "{fault:?}: {out:?}"
    );
    assert!(
        out.stderr.contains(words),
        "{fault:?}: expected '{words}': {out:?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:?}");
    assert!(took < limit, "{fault:?} took {took:?}");
}

#[test]
fn a_device_that_stops_answering_mid_dialogue_times_out() {
    assert_failed_in_time(
        Fault::SilentAfterLogin,
        "off",
        "timed out",
        Duration::from_secs(5),
    );
}

#[test]
fn a_prompt_that_never_comes_times_out_at_the_login_timeout() {
    assert_failed_in_time(
        Fault::NoPrompt,
        "status",
        "timed out",
        Duration::from_secs(5),
    );
}

#[test]
fn a_connection_closed_after_login_is_lost_not_success() {
    assert_failed_in_time(
        Fault::HangUpAfterLogin,
        "off",
        "closed the connection",
        Duration::from_secs(3),
    );
}

#[test]
fn a_megabyte_without_a_prompt_is_an_error() {
    assert_failed_in_time(Fault::Flood, "status", "without", Duration::from_secs(5));
}

#[test]
fn a_state_no_rule_knows_is_an_error_never_off() {
    assert_failed_in_time(
        Fault::StrangeState,
        "off",
        "names no state",
        Duration::from_secs(3),
    );
}
