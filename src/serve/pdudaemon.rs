//! PDUDaemon's two protocols, for its clients (LAVA's pduclient, labgrid's
//! PDUDaemonDriver): `GET /power/control/{on,off,reboot}?hostname=&port=&delay=` (or
//! `alias=`) and the one-line TCP protocol `<pdu> <port> <on|off|reboot> [delay]`.
//!
//! `hostname` names an inventory device and `port` its plug; `alias` names an inventory
//! node (every feed of it). As in PDUDaemon, a reboot pauses `delay` seconds (5 when not
//! given) between off and on; unlike it, the reboot is one job holding the device
//! throughout, the answer comes once the device confirmed the end state, and a device
//! that did not confirm answers 500 (`nack` over TCP). HEAD acts on nothing. Clients send
//! no credentials: only loopback and the configured networks are served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::device::PowerState;
use crate::fleet::inventory::Node;
use crate::fleet::power::Command;
use crate::serve::config::PduDaemon;
use crate::serve::http::{layered, printable, App, Refused};
use crate::serve::jobs::{Request as JobRequest, World};
use crate::serve::targets;

/// PDUDaemon's reboot pause when a request names none.
const DEFAULT_DELAY: u64 = 5;
/// The longest pause a request may ask for: well inside the service unit's stop timeout
/// (a stop cuts a pause short anyway, and switches the node back on).
const MAX_DELAY: u64 = 600;
/// One TCP request line at most (PDUDaemon reads 16 kB once).
const MAX_LINE: usize = 16 * 1024;

#[derive(Clone)]
struct Pdu {
    app: Arc<App>,
    conf: Arc<PduDaemon>,
}

pub fn router(app: Arc<App>, conf: Arc<PduDaemon>) -> Router {
    let routes = Router::new().route("/power/control/{action}", get(control));
    let state = Pdu {
        app: Arc::clone(&app),
        conf,
    };
    layered(routes, &app, not_found, |r| r, state)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found\n").into_response()
}

/// What a request asks, once its words are checked, and the inventory it was found in.
struct Ask {
    command: Command,
    targets: Vec<Node>,
    pause: Duration,
    world: Arc<World>,
}

/// Read a request's words: the action, then `hostname` and `port`, or `alias`, and `delay`.
fn ask(app: &App, action: &str, q: &HashMap<String, String>) -> Result<Ask, String> {
    let command = match action {
        "on" => Command::On,
        "off" => Command::Off,
        "reboot" => Command::Reboot,
        // PDUDaemon's pull request #219 (not in a release): the port's state, one word.
        "get-status" => Command::Status,
        other => return Err(format!("'{other}' is not on, off, reboot or get-status")),
    };
    let delay = match q.get("delay").map(|d| d.trim()) {
        None | Some("") => DEFAULT_DELAY,
        Some(d) => match d.parse::<u64>() {
            Ok(s) if s <= MAX_DELAY => s,
            _ => {
                return Err(format!(
                    "delay is whole seconds up to {MAX_DELAY}, not '{d}'"
                ))
            }
        },
    };
    let world = app.jobs.world();
    let inv = &world.inventory;
    let targets = match (q.get("alias"), q.get("hostname"), q.get("port")) {
        (Some(alias), None, None) => vec![targets::node(inv, alias).map_err(|f| f.1)?],
        // pduclient and LAVA zero-pad ports: the outlet reads them as numbers, as
        // PDUDaemon's int() does.
        (None, Some(host), Some(port)) => {
            vec![targets::outlet(inv, &world.hosts, host, port.trim()).map_err(|f| f.1)?]
        }
        _ => return Err("give hostname and port, or alias".into()),
    };
    Ok(Ask {
        command,
        targets,
        pause: Duration::from_secs(if command == Command::Reboot { delay } else { 0 }),
        world,
    })
}

/// Run the request as one job; once every target reached what was asked, as the devices
/// confirmed, the word to answer a get-status with (the state read).
async fn perform(app: &App, who: String, ask: Ask) -> Result<&'static str, String> {
    let (_, handle) = app.jobs.submit(JobRequest {
        who,
        command: ask.command,
        targets: ask.targets,
        pause: ask.pause,
        world: ask.world,
    })?;
    let job = handle.await.map_err(|e| e.to_string())?;
    if !job.confirmed() {
        return Err(match job.target(0).and_then(|t| t.reason.clone()) {
            Some(why) => why,
            None => "the device did not confirm".into(),
        });
    }
    match job.target(0).and_then(|t| t.state) {
        Some(PowerState::On) => Ok("on"),
        Some(PowerState::Off) => Ok("off"),
        None => Err("the state was not read".into()),
    }
}

async fn control(
    State(pdu): State<Pdu>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(action): Path<String>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !pdu.conf.allows(peer.ip()) {
        let mut r = (StatusCode::FORBIDDEN, "Forbidden\n").into_response();
        r.extensions_mut()
            .insert(Refused("a client outside pdudaemon.allow".into()));
        return r;
    }
    let Ok(Query(q)) = query else {
        return invalid();
    };
    let ask = match ask(&pdu.app, &action, &q) {
        Ok(a) => a,
        Err(why) => return refused(why),
    };
    let reading = ask.command == Command::Status;
    match perform(&pdu.app, format!("pdudaemon-http {}", peer.ip()), ask).await {
        Ok(state) if reading => (StatusCode::OK, format!("{state}\n")).into_response(),
        Ok(_) => (StatusCode::OK, "OK - accepted request\n").into_response(),
        Err(why) => refused(why),
    }
}

fn invalid() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Invalid request\n").into_response()
}

/// PDUDaemon's answer to what cannot be done, with the reason for the log line.
fn refused(why: String) -> Response {
    let mut r = invalid();
    r.extensions_mut().insert(Refused(why));
    r
}

/// The TCP listener: one line, one job, `ack` or `nack`, then the connection is closed.
pub async fn serve_tcp(
    listener: TcpListener,
    app: Arc<App>,
    conf: Arc<PduDaemon>,
    slots: Arc<tokio::sync::Semaphore>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut stop = stop;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((mut sock, peer)) = accepted else {
            continue;
        };
        if !conf.allows(peer.ip()) {
            continue; // dropped: closed without a word
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue; // over max_connections: closed at once
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let _slot = slot;
            let id = app.request_id();
            let started = std::time::Instant::now();
            let answer = match read_line(&mut sock).await {
                Ok(line) => tcp_request(&app, &line, peer).await,
                Err(why) => Err(why),
            };
            let (reply, why) = match answer {
                Ok(reply) => (reply, String::new()),
                Err(why) => ("nack\n".to_string(), format!(": {}", printable(&why))),
            };
            eprintln!(
                "fencebox serve: req={id} pdudaemon-tcp from {} -> {} in {} ms{why}",
                peer.ip(),
                reply.trim_end(),
                started.elapsed().as_millis()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// One request: up to a newline, the end, or a pause once something came (pduclient
/// sends its words without a newline and waits), within 10 s and `MAX_LINE` bytes.
async fn read_line(sock: &mut tokio::net::TcpStream) -> Result<String, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let until = if buf.is_empty() {
            deadline
        } else {
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(200))
        };
        let n = match tokio::time::timeout_at(until, sock.read(&mut chunk)).await {
            Ok(r) => r.map_err(|e| e.to_string())?,
            Err(_) if !buf.is_empty() => break,
            Err(_) => return Err("no request within 10 s".into()),
        };
        buf.extend_from_slice(&chunk[..n]);
        if n == 0 || buf.contains(&b'\n') {
            break;
        }
        if buf.len() > MAX_LINE {
            return Err(format!("request longer than {MAX_LINE} bytes"));
        }
    }
    let text = String::from_utf8(buf).map_err(|_| "request is not UTF-8".to_string())?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// `ack` (or, for get-status, `on` or `off`) once the device confirmed.
async fn tcp_request(app: &App, line: &str, peer: SocketAddr) -> Result<String, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (host, port, action, delay) = match words[..] {
        [h, p, a] => (h, p, a, None),
        [h, p, a, d] => (h, p, a, Some(d)),
        _ => {
            return Err(format!(
                "'{line}' is not <pdu> <port> <on|off|reboot> [delay]"
            ))
        }
    };
    let mut q = HashMap::new();
    q.insert("hostname".to_string(), host.to_string());
    q.insert("port".to_string(), port.to_string());
    if let Some(d) = delay {
        q.insert("delay".to_string(), d.to_string());
    }
    let ask = ask(app, action, &q)?;
    let reading = ask.command == Command::Status;
    let state = perform(app, format!("pdudaemon-tcp {}", peer.ip()), ask).await?;
    Ok(if reading {
        format!("{state}\n")
    } else {
        "ack\n".into()
    })
}
