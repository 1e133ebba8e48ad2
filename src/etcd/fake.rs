//! An in-process stand-in for etcd's JSON gateway, for fault injection in unit tests: each
//! request is answered by the test's own function (after an optional delay), and every
//! request is recorded. Not etcd: the interop tests run the real one.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// What the fake answers: HTTP status, JSON body, and how long to wait before.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&str, &Value) -> Reply + Send + Sync;

pub struct Fake {
    pub endpoint: String,
    /// (method path, request body) of every request, in order.
    pub seen: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Fake {
    /// Serve on a free loopback port until the process ends.
    pub fn start(handler: impl Fn(&str, &Value) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, record) = (handler.clone(), record.clone());
                std::thread::spawn(move || serve(stream, &*handler, &record));
            }
        });
        Fake { endpoint, seen }
    }

    /// The paths requested so far (`lease/grant`, `kv/txn`, ...).
    pub fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|s| s.iter().map(|(p, _)| p.clone()).collect())
            .unwrap_or_default()
    }
}

/// Requests of one connection, one after another, until the client closes it.
fn serve(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<(String, Value)>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .trim_start_matches("/v3/")
            .to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Ok(mut s) = seen.lock() {
            s.push((path.clone(), request.clone()));
        }
        let reply = handler(&path, &request);
        std::thread::sleep(reply.delay);
        let text = reply.body.to_string();
        let answer = format!(
            "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            reply.status,
            text.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
