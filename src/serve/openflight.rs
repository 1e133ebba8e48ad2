//! OpenFlight power-server's API, for its `power` client: `GET /nodes`, `GET /groups`,
//! and on `/?nodes=..&groups=..` the methods GET (status), PATCH (on), PUT (restart) and
//! DELETE (off), answered in its JSON:API shape (`commands` resources with `success` and,
//! for a status, `running`). Nodes and groups come from the inventory.
//!
//! Where fencebox differs: `success` means the device confirmed the state (power-server
//! reports a script's exit status), a restart is one job (every feed off and confirmed
//! before any goes back on), and a token must carry an `exp` (power-server accepts a
//! token without one). As power-server does, every request needs a valid HS256 token when
//! a secret is configured, and anything wrong with it is a plain 403.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::device::PowerState;
use crate::fleet::hostlist::{self, Term};
use crate::fleet::inventory::{Inventory, Node};
use crate::fleet::power::{Command, NodeResult};
use crate::serve::http::{layered, App};
use crate::serve::jobs::Request as JobRequest;

/// The most node names one request may ask for.
const MAX_NAMES: usize = 10_000;

#[derive(Clone)]
struct Flight {
    app: Arc<App>,
    /// The HS256 secret; None: loopback clients only, no token.
    secret: Option<Arc<Vec<u8>>>,
}

/// Read the shared secret: one line of a file others cannot read.
pub fn read_secret(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("openflight.jwt_secret_file {}: {e}", path.display()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "openflight.jwt_secret_file {}: readable or writable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("openflight.jwt_secret_file {}: {e}", path.display()))?;
    let secret = text.trim_end_matches(['\n', '\r']).as_bytes().to_vec();
    if secret.is_empty() {
        return Err(format!(
            "openflight.jwt_secret_file {}: empty",
            path.display()
        ));
    }
    Ok(secret)
}

pub fn router(app: Arc<App>, secret: Option<Vec<u8>>) -> Router {
    let state = Flight {
        app: Arc::clone(&app),
        secret: secret.map(Arc::new),
    };
    let routes = Router::new()
        .route("/nodes", get(nodes))
        .route("/groups", get(groups))
        .route("/", get(power).patch(power).put(power).delete(power));
    // The token is checked on every request, unknown routes included, as power-server
    // does: a request without one learns nothing, not even which routes exist.
    let guard_state = state.clone();
    let guard = move |r: Router<Flight>| {
        r.layer(axum::middleware::from_fn_with_state(guard_state, authorize))
    };
    layered(routes, &app, not_found, guard, state)
}

fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, "<h1>Not Found</h1>")
}

fn html(code: StatusCode, body: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/html;charset=utf-8")],
        body,
    )
        .into_response()
}

fn forbidden() -> Response {
    html(StatusCode::FORBIDDEN, "Forbidden")
}

async fn authorize(State(f): State<Flight>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match &f.secret {
        None => {
            if !peer.is_some_and(|p| p.ip().is_loopback()) {
                return forbidden();
            }
        }
        Some(secret) => {
            if !valid(req.headers(), secret) {
                return forbidden();
            }
        }
    }
    next.run(req).await
}

/// An HS256 token signed with `secret`, with an `exp` still ahead.
fn valid(h: &HeaderMap, secret: &[u8]) -> bool {
    let Some(token) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let mut check = Validation::new(Algorithm::HS256);
    check.leeway = 0;
    check.validate_nbf = true;
    check.set_required_spec_claims(&["exp"]);
    // power-server checks no audience; a token that names one is still its token.
    check.validate_aud = false;
    jsonwebtoken::decode::<Value>(token.trim(), &DecodingKey::from_secret(secret), &check).is_ok()
}

fn json_answer(value: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn nodes(State(f): State<Flight>) -> Response {
    let world = f.app.jobs.world();
    let data: Vec<Value> = world
        .inventory
        .nodes
        .iter()
        .map(|n| json!({"type": "nodes", "id": n.name, "attributes": {"name": n.name}}))
        .collect();
    json_answer(json!({ "data": data }))
}

async fn groups(State(f): State<Flight>) -> Response {
    let world = f.app.jobs.world();
    let inv = &world.inventory;
    let names: BTreeSet<&String> = inv.nodes.iter().flat_map(|n| &n.groups).collect();
    let data: Vec<Value> = names
        .into_iter()
        .map(|g| {
            let members: Vec<&str> = inv
                .nodes
                .iter()
                .filter(|n| n.groups.contains(g))
                .map(|n| n.name.as_str())
                .collect();
            json!({"type": "groups", "id": g, "attributes": {"name": g, "nodes": members}})
        })
        .collect();
    json_answer(json!({ "data": data }))
}

/// The names asked for, in order, each once: `nodes` (a host list: names, ranges,
/// `@group`, `all`) then the members of `groups` (comma-separated group names); at most
/// `MAX_NAMES`.
fn asked(inv: &Inventory, q: &HashMap<String, String>) -> Result<Vec<String>, &'static str> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |n: &str| {
        if seen.insert(n.to_string()) {
            out.push(n.to_string());
        }
    };
    if let Some(text) = q
        .get("nodes")
        .map(|t| t.trim_end_matches('\n'))
        .filter(|t| !t.is_empty())
    {
        let terms = hostlist::parse(text).map_err(|_| "Unrecognised nodes syntax")?;
        for term in terms {
            match term {
                Term::All => inv.nodes.iter().for_each(|n| push(&n.name)),
                Term::Group(g) => inv
                    .nodes
                    .iter()
                    .filter(|n| n.groups.contains(&g))
                    .for_each(|n| push(&n.name)),
                Term::Names(names) => {
                    if names.len() > MAX_NAMES {
                        return Err("Unrecognised nodes syntax");
                    }
                    names.iter().for_each(|n| push(n))
                }
            }
        }
    }
    if let Some(text) = q
        .get("groups")
        .map(|t| t.trim_end_matches('\n'))
        .filter(|t| !t.is_empty())
    {
        for g in text.split(',') {
            if g.is_empty() || !g.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
                return Err("Unrecognised groups syntax");
            }
            inv.nodes
                .iter()
                .filter(|n| n.groups.iter().any(|x| x == g))
                .for_each(|n| push(&n.name));
        }
    }
    if out.len() > MAX_NAMES {
        return Err("Unrecognised nodes syntax");
    }
    Ok(out)
}

async fn power(
    State(f): State<Flight>,
    method: Method,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (command, action) = match method {
        Method::GET => (Command::Status, "status"),
        Method::PATCH => (Command::On, "power_on"),
        Method::PUT => (Command::Reboot, "restart"),
        Method::DELETE => (Command::Off, "power_off"),
        _ => return html(StatusCode::NOT_FOUND, "<h1>Not Found</h1>"),
    };
    let Ok(Query(q)) = query else {
        return html(StatusCode::BAD_REQUEST, "Unrecognised nodes syntax");
    };
    let world = f.app.jobs.world();
    let names = match asked(&world.inventory, &q) {
        Ok(n) => n,
        Err(why) => return html(StatusCode::BAD_REQUEST, why),
    };
    let targets: Vec<Node> = names
        .iter()
        .filter_map(|n| world.inventory.node(n).cloned())
        .collect();
    let job = if targets.is_empty() {
        None
    } else {
        let submitted = f.app.jobs.submit(JobRequest {
            who: format!("openflight {}", peer.ip()),
            command,
            targets,
            pause: std::time::Duration::ZERO,
            world: Arc::clone(&world),
        });
        match submitted {
            Ok((_, handle)) => match handle.await {
                Ok(job) => Some(job),
                Err(_) => return html(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            },
            Err(_) => return html(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        }
    };
    let data: Vec<Value> = names
        .iter()
        .map(|name| {
            let result = job.as_ref().and_then(|j| j.target_named(name));
            command_resource(&world.inventory, name, action, command, result)
        })
        .collect();
    json_answer(json!({ "data": data }))
}

/// One node's `commands` resource: `success` when the device confirmed what was asked
/// (for a status: that the state could be read), `running` for a status.
fn command_resource(
    inv: &Inventory,
    name: &str,
    action: &str,
    command: Command,
    result: Option<&NodeResult>,
) -> Value {
    let node = inv.node(name);
    let platform = node
        .and_then(|n| n.power_feeds().first().cloned())
        .and_then(|f| inv.devices.get(&f.device))
        .map_or("missing".to_string(), |d| d.agent.name.to_string());
    // A node's own result: every feed confirmed as asked (off: every feed off).
    let ok = result.is_some_and(|r| r.ok);
    let mut attributes = json!({
        "action": action,
        "node-name": name,
        "platform": platform,
        "missing": node.is_none(),
        "success": ok,
    });
    if command == Command::Status {
        attributes["running"] = match (ok, result.and_then(|r| r.state)) {
            (true, Some(PowerState::On)) => json!(true),
            (true, Some(PowerState::Off)) => json!(false),
            _ => Value::Null,
        };
    }
    json!({"type": "commands", "id": name, "attributes": attributes})
}
