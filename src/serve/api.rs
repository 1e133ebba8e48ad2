//! The fencebox API (`/v1/`, JSON; docs/api.md) and `/metrics`. Every route needs a
//! bearer token (401 without one or with an unknown one); switching needs a control token
//! whose node list covers every node switched (403 otherwise), checked before anything is
//! queued, so a refused request switches nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fleet::hostlist;
use crate::fleet::import;
use crate::fleet::inventory::{Feed, Node, Parent};
use crate::fleet::power::Command;
use crate::serve::jobs::{self, Job, Jobs, Request as JobRequest, State as JobState};
use crate::serve::tokens::{Holder, Scope, Tokens};

pub struct App {
    pub jobs: Arc<Jobs>,
    pub tokens: std::sync::RwLock<Arc<Tokens>>,
    pub request_ids: AtomicU64,
}

impl App {
    pub fn tokens(&self) -> Arc<Tokens> {
        Arc::clone(&self.tokens.read().unwrap_or_else(|p| p.into_inner()))
    }
}

type Shared = Arc<App>;

/// The largest request body (a `/v1/power` body is a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

/// An error answer: a status and one line.
pub struct Failure(pub StatusCode, pub String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({ "error": self.1 }))).into_response();
        r.extensions_mut().insert(Refused(self.1));
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

fn fail(code: StatusCode, msg: impl Into<String>) -> Failure {
    Failure(code, msg.into())
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/v1/nodes", get(nodes))
        .route("/v1/nodes/{node}", get(node_status))
        .route("/v1/nodes/{node}/{action}", post(node_action))
        .route("/v1/power", post(power))
        .route("/v1/devices", get(devices))
        .route("/v1/devices/{device}/outlets", get(outlets))
        .route(
            "/v1/devices/{device}/outlets/{plug}/{action}",
            post(outlet_action),
        )
        .route("/v1/pdus/{device}", get(pdu_status))
        .route("/v1/pdus/{device}/ports/{port}/{action}", post(pdu_port))
        .route("/v1/chain/check", get(chain_check))
        .route("/v1/chain/{nodes}", get(chain_show))
        .route("/v1/jobs", get(job_list))
        .route("/v1/jobs/{id}", get(job_one))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(label_route))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "no such route; see docs/api.md") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            log_request,
        ))
        .with_state(app)
}

/// The route a request matched (its pattern), carried on the response to the log line.
#[derive(Clone)]
pub struct RouteLabel(pub String);

pub async fn label_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(RouteLabel(r));
    }
    resp
}

/// One log line per request, with its id, route, code and the token's name (never the
/// token), and the request counters of `/metrics`.
pub async fn log_request(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let id = app.request_ids.fetch_add(1, Ordering::Relaxed) + 1;
    let started = Instant::now();
    let method = req.method().clone();
    let who = bearer(req.headers())
        .and_then(|t| app.tokens().find(t))
        .map_or("-".to_string(), |h| h.name);
    let resp = next.run(req).await;
    let took = started.elapsed();
    let route = resp
        .extensions()
        .get::<RouteLabel>()
        .map_or("(no route)", |r| r.0.as_str())
        .to_string();
    app.jobs
        .metrics
        .request(&route, resp.status().as_u16(), took);
    let why = resp
        .extensions()
        .get::<Refused>()
        .map_or(String::new(), |r| format!(": {}", r.0));
    eprintln!(
        "fencebox serve: req={id} {method} {route} -> {} in {} ms, token {who}{why}",
        resp.status().as_u16(),
        took.as_millis()
    );
    resp
}

/// Why a request was refused or failed, carried on the response to its log line (so that
/// every line about a request is that one line, with the request's id).
#[derive(Clone)]
pub struct Refused(pub String);

fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = v.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The holder of the request's token, or 401.
fn holder(app: &App, h: &HeaderMap) -> Result<Holder, Failure> {
    let token = bearer(h).ok_or_else(|| {
        fail(
            StatusCode::UNAUTHORIZED,
            "no bearer token; send Authorization: Bearer <token> (fencebox token add)",
        )
    })?;
    app.tokens()
        .find(token)
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "unknown token"))
}

/// The holder, if it may switch every target (nodes by name; outlets by the node they
/// feed, or only with a token for all nodes when they feed none).
fn controller(
    app: &App,
    h: &HeaderMap,
    targets: &[Node],
    inv: &crate::fleet::inventory::Inventory,
) -> Result<Holder, Failure> {
    let who = holder(app, h)?;
    if who.scope != Scope::Control {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!("token {} may read, not switch", who.name),
        ));
    }
    for t in targets {
        let allowed = match inv.node(&t.name) {
            Some(node) => who.may_switch(node),
            None => t.feeds.iter().all(|f| match inv.node_fed_by(f) {
                Some(node) => who.may_switch(node),
                None => who.may_switch_all(),
            }),
        };
        if !allowed {
            return Err(fail(
                StatusCode::FORBIDDEN,
                format!("token {} may not switch {}", who.name, t.name),
            ));
        }
    }
    Ok(who)
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<String>,
}

impl WaitQuery {
    fn wait(&self) -> Result<bool, Failure> {
        match self.wait.as_deref() {
            None | Some("1") | Some("true") | Some("yes") => Ok(true),
            Some("0") | Some("false") | Some("no") => Ok(false),
            Some(other) => Err(fail(
                StatusCode::BAD_REQUEST,
                format!("wait is true or false, not '{other}'"),
            )),
        }
    }
}

fn command(action: &str, switching: bool) -> Result<Command, Failure> {
    match Command::parse(action) {
        Some(Command::Status) if switching => Err(fail(
            StatusCode::BAD_REQUEST,
            "status is read with GET, not POST",
        )),
        Some(c) => Ok(c),
        None => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("'{action}' is not an action; use on, off or reboot"),
        )),
    }
}

/// Queue a job; with `wait`, answer with its result (200 when every target reached what
/// was asked, 502 when a device did not confirm), else 202 and where to find it.
async fn run_job(
    app: &App,
    who: String,
    cmd: Command,
    targets: Vec<Node>,
    wait: bool,
) -> Result<Response, Failure> {
    let (id, handle) = submit(app, who, cmd, targets)?;
    if !wait {
        let mut r = (
            StatusCode::ACCEPTED,
            Json(json!({ "job": id, "state": "queued" })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{id}")) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(r);
    }
    Ok(job_answer(finish(id, handle).await?))
}

fn submit(
    app: &App,
    who: String,
    cmd: Command,
    targets: Vec<Node>,
) -> Result<(u64, tokio::task::JoinHandle<Job>), Failure> {
    app.jobs
        .submit(JobRequest {
            who,
            command: cmd,
            targets,
            pause: Duration::ZERO,
        })
        .map_err(|e| fail(StatusCode::SERVICE_UNAVAILABLE, e))
}

async fn finish(id: u64, handle: tokio::task::JoinHandle<Job>) -> Result<Job, Failure> {
    handle
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("job {id}: {e}")))
}

/// Queue a job and wait for it.
async fn job_done(
    app: &App,
    who: String,
    cmd: Command,
    targets: Vec<Node>,
) -> Result<Job, Failure> {
    let (id, handle) = submit(app, who, cmd, targets)?;
    finish(id, handle).await
}

pub fn job_answer(job: Job) -> Response {
    let code = match job.state {
        JobState::Done => StatusCode::OK,
        JobState::Failed => StatusCode::BAD_GATEWAY,
        _ => StatusCode::OK,
    };
    (code, Json(job)).into_response()
}

async fn nodes(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let world = app.jobs.world();
    let list: Vec<_> = world
        .inventory
        .nodes
        .iter()
        .map(|n| {
            json!({
                "node": n.name,
                "groups": n.groups,
                "feeds": n.feeds.iter().map(Feed::to_string).collect::<Vec<_>>(),
                "bmc": n.bmc.as_ref().map(Feed::to_string),
            })
        })
        .collect();
    Ok(Json(list).into_response())
}

fn find_node(app: &App, name: &str) -> Result<Node, Failure> {
    app.jobs
        .world()
        .inventory
        .node(name)
        .cloned()
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("no node {name} in the inventory"),
            )
        })
}

async fn node_status(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(node): Path<String>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let n = find_node(&app, &node)?;
    run_job(&app, who.name, Command::Status, vec![n], true).await
}

async fn node_action(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((node, action)): Path<(String, String)>,
    Query(q): Query<WaitQuery>,
) -> Result<Response, Failure> {
    let cmd = command(&action, true)?;
    let wait = q.wait()?;
    let n = find_node(&app, &node)?;
    let world = app.jobs.world();
    let who = controller(&app, &h, std::slice::from_ref(&n), &world.inventory)?;
    run_job(&app, who.name, cmd, vec![n], wait).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerBody {
    action: String,
    nodes: String,
    #[serde(default = "yes")]
    wait: bool,
}

fn yes() -> bool {
    true
}

/// `POST /v1/power {"action": "off", "nodes": "node[01-08],@rack2"}`: one job over nodes.
async fn power(
    State(app): State<Shared>,
    h: HeaderMap,
    body: Result<Json<PowerBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Failure> {
    let Json(body) = body.map_err(|e| fail(e.status(), e.body_text()))?;
    let cmd = command(&body.action, false)?;
    let world = app.jobs.world();
    let terms = hostlist::parse(&body.nodes).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let names = hostlist::select(&terms, world.inventory.names())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let targets: Vec<Node> = names
        .iter()
        .filter_map(|n| world.inventory.node(n).cloned())
        .collect();
    let who = if cmd == Command::Status {
        holder(&app, &h)?
    } else {
        controller(&app, &h, &targets, &world.inventory)?
    };
    run_job(&app, who.name, cmd, targets, body.wait).await
}

async fn devices(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let world = app.jobs.world();
    let inv = &world.inventory;
    let list: Vec<_> = inv
        .devices
        .values()
        .map(|d| {
            let outlets: Vec<String> = plugs_of(inv, &d.name);
            json!({
                "device": d.name,
                "agent": d.agent.name.to_string(),
                "parent": match &d.parent {
                    Parent::Unknown => None,
                    Parent::Mains => Some("mains".to_string()),
                    Parent::Feed(f) => Some(f.to_string()),
                },
                "outlets": outlets,
            })
        })
        .collect();
    Ok(Json(list).into_response())
}

/// The plugs of a device that the inventory's nodes name, in order.
fn plugs_of(inv: &crate::fleet::inventory::Inventory, device: &str) -> Vec<String> {
    let mut plugs: Vec<String> = inv
        .nodes
        .iter()
        .flat_map(|n| n.feeds.iter().chain(n.bmc.iter()))
        .filter(|f| f.device == device)
        .map(|f| f.plug.clone())
        .collect();
    plugs.sort_by_key(|p| natural(p));
    plugs.dedup();
    plugs
}

fn natural(s: &str) -> (u64, String) {
    (s.parse().unwrap_or(u64::MAX), s.to_string())
}

/// Status of every outlet of a device that the inventory maps (one read of the device).
async fn outlets(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let targets = outlet_targets(&app, &device)?;
    run_job(&app, who.name, Command::Status, targets, true).await
}

/// Every outlet of a device that the inventory's nodes use, as one-feed targets.
fn outlet_targets(app: &App, device: &str) -> Result<Vec<Node>, Failure> {
    let world = app.jobs.world();
    if !world.inventory.devices.contains_key(device) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no device {device} in the inventory"),
        ));
    }
    let targets: Vec<Node> = plugs_of(&world.inventory, device)
        .into_iter()
        .map(|plug| {
            jobs::outlet_target(
                &world.inventory,
                Feed {
                    device: device.to_string(),
                    plug,
                },
            )
        })
        .collect();
    if targets.is_empty() {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no node of the inventory is fed by {device}"),
        ));
    }
    Ok(targets)
}

async fn outlet_action(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((device, plug, action)): Path<(String, String, String)>,
    Query(q): Query<WaitQuery>,
) -> Result<Response, Failure> {
    let cmd = command(&action, true)?;
    let wait = q.wait()?;
    let world = app.jobs.world();
    let target = outlet(&world.inventory, &device, &plug)?;
    let who = controller(&app, &h, std::slice::from_ref(&target), &world.inventory)?;
    run_job(&app, who.name, cmd, vec![target], wait).await
}

/// A device's outlet as a one-feed target; the device must be in the inventory.
pub fn outlet(
    inv: &crate::fleet::inventory::Inventory,
    device: &str,
    plug: &str,
) -> Result<Node, Failure> {
    // A PDUDaemon host name (`127.0.0.1:16162`) is known by its inventory name.
    let known = inv
        .devices
        .get(device)
        .or_else(|| inv.devices.get(&import::inventory_name(device)));
    let Some(d) = known else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no device {device} in the inventory"),
        ));
    };
    let device = d.name.as_str();
    let plug = if d.has_plugs() {
        plug.to_string()
    } else {
        String::new()
    };
    Ok(jobs::outlet_target(
        inv,
        Feed {
            device: device.to_string(),
            plug,
        },
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn job_list(
    State(app): State<Shared>,
    h: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    Ok(Json(app.jobs.recent(q.limit.unwrap_or(100).min(1000))).into_response())
}

async fn job_one(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let id: u64 = id.parse().map_err(|_| {
        fail(
            StatusCode::BAD_REQUEST,
            format!("job ids are numbers, not '{id}'"),
        )
    })?;
    app.jobs
        .get(id)
        .map(|j| Json(j).into_response())
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("no job {id} in memory (the journal keeps every job)"),
            )
        })
}

async fn metrics(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let text = app.jobs.metrics.render(&app.jobs.depths());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

#[derive(Deserialize)]
struct ChainQuery {
    live: Option<bool>,
    nodes: Option<String>,
}

/// The power chains of `nodes` (a host list), each link read from its device unless
/// `live=false`; with `check`, the risks found as well (docs/inventory.md).
async fn chain_answer(
    app: &App,
    nodes: &str,
    live: bool,
    check: bool,
) -> Result<Response, Failure> {
    use crate::fleet::{chain, power};
    let world = app.jobs.world();
    let terms = hostlist::parse(nodes).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let names = hostlist::select(&terms, world.inventory.names())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let text = tokio::task::spawn_blocking(move || {
        let mut chains = chain::chains(&world.inventory, &names);
        if live {
            let opts = power::Options {
                progress: false,
                ..power::Options::default()
            };
            let readings = power::inspect(
                &world.inventory,
                &world.registry,
                &world.env,
                &chain::feeds(&chains),
                &opts,
            );
            chain::fill(&mut chains, &readings);
        }
        let risks = check.then(|| chain::check(&chains, live));
        chain::json(&chains, risks.as_deref())
    })
    .await
    .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

async fn chain_show(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(nodes): Path<String>,
    Query(q): Query<ChainQuery>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    chain_answer(&app, &nodes, q.live.unwrap_or(true), false).await
}

async fn chain_check(
    State(app): State<Shared>,
    h: HeaderMap,
    Query(q): Query<ChainQuery>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let nodes = q.nodes.as_deref().unwrap_or("all");
    chain_answer(&app, nodes, q.live.unwrap_or(false), true).await
}

/// A port as DCImanager's PDU handlers give it: its identifier and `up`, `down`, or
/// `unknown` with why.
fn port_view(feed: &Value) -> Value {
    let status = match feed["state"].as_str() {
        Some("on") => "up",
        Some("off") => "down",
        _ => "unknown",
    };
    let mut v = json!({ "identify": feed["plug"], "power_status": status });
    if let Some(e) = feed["error"].as_str() {
        v["error"] = json!(e);
    }
    v
}

/// `GET /v1/pdus/{device}`: DCImanager's PDU status, every port the inventory uses.
async fn pdu_status(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let targets = outlet_targets(&app, &device)?;
    let job = job_done(&app, who.name, Command::Status, targets).await?;
    let ports: Vec<Value> = job
        .result
        .as_ref()
        .and_then(|r| r["nodes"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|n| n["feeds"].as_array()?.first().map(port_view))
        .collect();
    Ok(Json(json!({ "device": device, "job": job.id, "ports": ports })).into_response())
}

/// `POST /v1/pdus/{device}/ports/{port}/{up|down}`: DCImanager's port up and port down,
/// answered with the port as the device then confirmed it.
async fn pdu_port(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((device, port, action)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let cmd = match action.as_str() {
        "up" => Command::On,
        "down" => Command::Off,
        other => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                format!("'{other}' is not up or down"),
            ))
        }
    };
    let world = app.jobs.world();
    let target = outlet(&world.inventory, &device, &port)?;
    let who = controller(&app, &h, std::slice::from_ref(&target), &world.inventory)?;
    let job = job_done(&app, who.name, cmd, vec![target]).await?;
    let view = job
        .result
        .as_ref()
        .and_then(|r| r["nodes"][0]["feeds"].as_array()?.first().map(port_view))
        .unwrap_or_else(|| json!({ "identify": port, "power_status": "unknown" }));
    let code = if job.state == JobState::Done {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok((
        code,
        Json(json!({ "device": device, "job": job.id, "port": view })),
    )
        .into_response())
}
