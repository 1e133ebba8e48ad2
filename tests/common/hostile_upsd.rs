//! A hostile upsd for the faults a real one will not produce on demand: an in-process
//! server on 127.0.0.1 that answers like a small upsd (every outlet on and switchable,
//! instant commands tracked) until its fault sets in, and records every line it gets.
//! Also a listener that never accepts, and a way to run an agent with a hard cap so a
//! hanging call fails its test instead of hanging it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{finish, Out, Sandbox};

/// Where the server turns hostile: at the first line whose first word is `from`.
#[derive(Clone, Copy, Debug)]
pub enum Hostility {
    /// Every reply from then on trickles out one byte every 200 ms, and never ends.
    DripFrom(&'static str),
    /// Nothing is answered from then on; lines are still read and recorded.
    SilentFrom(&'static str),
    /// Instant commands get a tracking id that stays PENDING; nothing ever switches.
    StuckPending,
    /// Never: a small, healthy upsd whose outlets switch (the hermetic tier's fake).
    Honest,
    /// The same, with one password: another is refused (ERR ACCESS-DENIED), and so is
    /// every instant command of that connection.
    HonestBehind(&'static str),
}

pub struct HostileUpsd {
    pub port: u16,
    received: Arc<Mutex<Vec<String>>>,
    closed: Arc<Mutex<usize>>,
    /// Outlets 1 and 2: on or off (switched only by an honest server).
    pub outlets: Arc<Mutex<[bool; 2]>>,
}

impl HostileUpsd {
    pub fn start(fault: Hostility) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Mutex::new(0));
        let outlets = Arc::new(Mutex::new([true; 2]));
        let (r, c, o) = (received.clone(), closed.clone(), outlets.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (r, c, o) = (r.clone(), c.clone(), o.clone());
                std::thread::spawn(move || {
                    serve(s, fault, &r, &o);
                    *c.lock().unwrap() += 1;
                });
            }
        });
        HostileUpsd {
            port,
            received,
            closed,
            outlets,
        }
    }

    /// Every line received so far, after waiting (at most 5 s) for `n` connections to
    /// have ended, so nothing the client sent before closing is missed.
    pub fn received_after(&self, n: usize) -> Vec<String> {
        let t0 = Instant::now();
        while *self.closed.lock().unwrap() < n && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    s: TcpStream,
    fault: Hostility,
    received: &Mutex<Vec<String>>,
    outlets: &Mutex<[bool; 2]>,
) {
    let mut out = s.try_clone().unwrap();
    let mut silent = false;
    let mut denied = false;
    for line in BufReader::new(s).lines() {
        let Ok(line) = line else { return };
        received.lock().unwrap().push(line.clone());
        let first = line.split_whitespace().next().unwrap_or_default();
        match fault {
            Hostility::DripFrom(w) if w == first => return drip(&mut out),
            Hostility::SilentFrom(w) if w == first => silent = true,
            _ => {}
        }
        if silent {
            continue;
        }
        let reply = match fault {
            Hostility::HonestBehind(pw)
                if first == "PASSWORD"
                    && line.split_whitespace().nth(1).map(|p| p.trim_matches('"')) != Some(pw) =>
            {
                denied = true;
                "ERR ACCESS-DENIED\n".to_string()
            }
            Hostility::HonestBehind(_) if denied && first == "INSTCMD" => {
                "ERR ACCESS-DENIED\n".to_string()
            }
            Hostility::Honest | Hostility::HonestBehind(_) => {
                honest(&line, outlets).unwrap_or_else(|| answer(&line))
            }
            _ => answer(&line),
        };
        if out.write_all(reply.as_bytes()).is_err() || first == "LOGOUT" {
            return;
        }
    }
}

/// A line that never ends, a byte at a time, until the client goes away.
fn drip(out: &mut TcpStream) {
    let start = b"VAR ups outlet.1.status \"";
    for b in start.iter().chain(std::iter::repeat(&b'o')) {
        if out.write_all(&[*b]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What differs when the server is honest: outlet states are kept, instant commands
/// switch them and their tracking ends in SUCCESS.
fn honest(line: &str, outlets: &Mutex<[bool; 2]>) -> Option<String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let outlet = |var: &str, suffix: &str| -> Option<usize> {
        let n: usize = var
            .strip_prefix("outlet.")?
            .strip_suffix(suffix)?
            .parse()
            .ok()?;
        (1..=2).contains(&n).then_some(n - 1)
    };
    let word = |on: bool| if on { "on" } else { "off" };
    match w.as_slice() {
        ["GET", "VAR", ups, var] => {
            let n = outlet(var, ".status")?;
            Some(format!(
                "VAR {ups} {var} \"{}\"\n",
                word(outlets.lock().unwrap()[n])
            ))
        }
        ["INSTCMD", _, cmd] => {
            let (n, on) = match (outlet(cmd, ".load.on"), outlet(cmd, ".load.off")) {
                (Some(n), _) => (n, true),
                (_, Some(n)) => (n, false),
                _ => return Some("ERR CMD-NOT-SUPPORTED\n".into()),
            };
            outlets.lock().unwrap()[n] = on;
            Some("OK TRACKING 5f1d0c1e-honest\n".into())
        }
        ["GET", "TRACKING", _] => Some("SUCCESS\n".into()),
        ["LIST", "VAR", ups] => {
            let states = *outlets.lock().unwrap();
            let mut l = format!("BEGIN LIST VAR {ups}\n");
            for (i, on) in states.iter().enumerate() {
                let n = i + 1;
                l += &format!("VAR {ups} outlet.{n}.desc \"Outlet {n}\"\n");
                l += &format!("VAR {ups} outlet.{n}.status \"{}\"\n", word(*on));
            }
            Some(l + &format!("END LIST VAR {ups}\n"))
        }
        _ => None,
    }
}

/// What a small, healthy upsd answers (outlets 1 and 2, both on).
fn answer(line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["USERNAME", ..] | ["PASSWORD", ..] | ["SET", "TRACKING", "ON"] => "OK\n".into(),
        ["GET", "VAR", ups, var] if var.ends_with(".status") => format!("VAR {ups} {var} \"on\"\n"),
        ["GET", "VAR", ups, var] if var.ends_with(".switchable") => {
            format!("VAR {ups} {var} \"yes\"\n")
        }
        ["GET", "VAR", ..] => "ERR VAR-NOT-SUPPORTED\n".into(),
        ["INSTCMD", ..] => "OK TRACKING 5f1d0c1e-hostile\n".into(),
        ["GET", "TRACKING", _] => "PENDING\n".into(),
        ["LIST", "VAR", ups] => {
            let mut l = format!("BEGIN LIST VAR {ups}\n");
            for n in 1..=2 {
                l += &format!("VAR {ups} outlet.{n}.desc \"Outlet {n}\"\n");
                l += &format!("VAR {ups} outlet.{n}.status \"on\"\n");
            }
            l + &format!("END LIST VAR {ups}\n")
        }
        ["LIST", "CMD", ups] => format!("BEGIN LIST CMD {ups}\nEND LIST CMD {ups}\n"),
        ["LOGOUT"] => "OK Goodbye\n".into(),
        _ => "ERR UNKNOWN-COMMAND\n".into(),
    }
}

/// A port where connecting hangs: a listener whose accept queue is full (nothing ever
/// accepts), so the kernel drops further SYNs. Keep the value alive while it is used.
pub struct Unaccepting {
    pub port: u16,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl Unaccepting {
    pub fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let addr = listener.local_addr().unwrap();
        let wait = Duration::from_millis(300);
        let mut queued = Vec::new();
        // Fill the queue until a connect hangs, then check that the next one hangs too.
        let mut hung = 0;
        while hung < 2 {
            assert!(queued.len() < 5000, "the accept queue never filled");
            match TcpStream::connect_timeout(&addr, wait) {
                Ok(s) => queued.push(s),
                Err(_) => hung += 1,
            }
        }
        Unaccepting {
            port,
            _listener: listener,
            _queued: queued,
        }
    }
}

/// Run an agent with arguments; one still running after `cap` is killed (its output is
/// then whatever it wrote). Returns the output and how long the call took.
pub fn run_capped(sb: &Sandbox, name: &str, args: &[&str], cap: Duration) -> (Out, Duration) {
    let t0 = Instant::now();
    let mut child = sb.spawn_args(name, args);
    while child.try_wait().unwrap().is_none() && t0.elapsed() < cap {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let took = t0.elapsed();
    (finish(child), took)
}
