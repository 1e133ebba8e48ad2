//! What a device shell prints, through everything that reads it: the expect engine
//! (escape stripping, line ends, split UTF-8, the 1 MiB bound), then every built-in
//! dialogue's status rules and list rows, and the device's own login. The first byte
//! picks the dialogue and the reading; the rest is the device's output, cut into reads at each 0xff byte
//! (so that escapes and characters split over reads are explored). Nothing may panic,
//! hang or grow without bound.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fencebox::contract::agents::{self, BackendKind};
use fencebox::runtime::clock::RealClock;
use fencebox::runtime::stream::{ByteStream, StreamError};
use fencebox::shell::dialogue::Dialogue;
use fencebox::shell::expect::Expect;
use fencebox::shell::script::{Compiled, Timeouts};
use libfuzzer_sys::fuzz_target;

/// The device: the fuzz input in reads, then a closed connection; what is sent is dropped.
struct Device(Vec<Vec<u8>>);

impl ByteStream for Device {
    fn read_some(&mut self, buf: &mut [u8], _: Instant) -> Result<usize, StreamError> {
        if self.0.is_empty() {
            return Ok(0);
        }
        let mut next = self.0.remove(0);
        if next.len() > buf.len() {
            let rest = next.split_off(buf.len());
            self.0.insert(0, rest);
        }
        buf[..next.len()].copy_from_slice(&next);
        Ok(next.len())
    }
    fn write_all(&mut self, _: &[u8], _: Instant) -> Result<(), StreamError> {
        Ok(())
    }
    fn close(&mut self) {}
}

fn reads(data: &[u8]) -> Vec<Vec<u8>> {
    data.split(|b| *b == 0xff)
        .map(<[u8]>::to_vec)
        .filter(|r| !r.is_empty())
        .collect()
}

/// Every built-in dialogue, compiled once (compiling is what a session does once; the
/// fuzzer is after the reading).
fn scripts() -> &'static Mutex<Vec<Compiled>> {
    static ALL: OnceLock<Mutex<Vec<Compiled>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let t = Duration::from_millis(50);
        let timeouts = Timeouts {
            login: t,
            shell: t,
            power: t,
        };
        let mut values = HashMap::new();
        values.insert("login".to_string(), "user".to_string());
        values.insert("password".to_string(), "secret".to_string());
        let all = agents::builtin()
            .filter(|d| d.backend == BackendKind::Shell)
            .map(|d| {
                let dialogue: Arc<Dialogue> = d.dialogue().expect("built-in dialogues read");
                let prompts = dialogue.prompt.clone();
                Compiled::new(dialogue, &prompts, values.clone(), timeouts).expect("they compile")
            })
            .collect();
        Mutex::new(all)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, output)) = data.split_first() else {
        return;
    };
    let mut all = scripts().lock().unwrap_or_else(|e| e.into_inner());
    let count = all.len();
    // The first byte picks the dialogue and what is read: the login, a status or a list.
    let c = &mut all[usize::from(which) % count];
    let clock = RealClock::started_at(Instant::now());
    let eol = c.dialogue.eol.clone();
    let mut stream = Expect::new(Box::new(Device(reads(output))), &eol);
    match (usize::from(which) / count) % 3 {
        0 => {
            let _ = c.login(&mut stream, &clock);
        }
        1 => {
            let _ = c.status(&mut stream, &clock, "1");
        }
        _ if c.dialogue.list.is_some() => {
            if let Ok(rows) = c.list(&mut stream, &clock) {
                for (id, _, _) in rows {
                    assert!(!id.contains('\n'), "a row id spans lines: {id:?}");
                }
            }
        }
        _ => {}
    }
});
