//! The fencebox API (`/v1/`, JSON; docs/api.md) and `/metrics`. Every route needs a
//! bearer token, checked first (401 without one or with an unknown one, before anything
//! else is looked at); switching needs a control token whose node list covers every node
//! switched (403 otherwise), checked before anything is queued, so a refused request
//! switches nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fleet::hostlist;
use crate::fleet::inventory::{Feed, Node, Parent};
use crate::fleet::power::{Command, FeedResult};
use crate::serve::http::{fail, holder, layered, App, Failure};
use crate::serve::jobs::{Job, Request as JobRequest, World};
use crate::serve::targets;

type Shared = Arc<App>;

/// The largest request body (a `/v1/power` body is a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;
/// How long a client has to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router(app: Shared) -> Router {
    let routes = Router::new()
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
        .route("/v1/pdus/{device}/statistic", get(pdu_statistic))
        .route("/v1/pdus/{device}/ports/{port}/{action}", post(pdu_port))
        .route("/v1/chain/check", get(chain_check))
        .route("/v1/chain/{nodes}", get(chain_show))
        .route("/v1/jobs", get(job_list))
        .route("/v1/jobs/{id}", get(job_one))
        .route("/metrics", get(metrics))
        .merge(crate::serve::console::routes());
    layered(routes, &app, not_found, |r| r, Arc::clone(&app))
}

fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "no such route; see docs/api.md").into_response()
}

/// A query string, or 400 with the reason.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Failure> {
    q.map(|Query(t)| t)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))
}

#[derive(Deserialize)]
struct WaitQuery {
    wait: Option<String>,
}

fn wait_of(q: Result<Query<WaitQuery>, QueryRejection>) -> Result<bool, Failure> {
    match query(q)?.wait.as_deref() {
        None | Some("1") | Some("true") | Some("yes") => Ok(true),
        Some("0") | Some("false") | Some("no") => Ok(false),
        Some(_) => Err(fail(StatusCode::BAD_REQUEST, "wait is true or false")),
    }
}

fn command(action: &str) -> Result<Command, Failure> {
    match Command::parse(action) {
        Some(Command::Status) => Err(fail(
            StatusCode::BAD_REQUEST,
            "status is read with GET, not POST",
        )),
        Some(c) => Ok(c),
        None => Err(fail(
            StatusCode::BAD_REQUEST,
            "not an action; use on, off or reboot",
        )),
    }
}

/// Queue a job on `world` (the snapshot the targets were found and authorised in).
pub(crate) fn submit(
    app: &App,
    world: Arc<World>,
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
            world,
        })
        .map_err(|e| fail(StatusCode::SERVICE_UNAVAILABLE, e))
}

/// Queue a job and wait for it.
async fn job_done(
    app: &App,
    world: Arc<World>,
    who: String,
    cmd: Command,
    targets: Vec<Node>,
) -> Result<Job, Failure> {
    let (id, handle) = submit(app, world, who, cmd, targets)?;
    handle
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("job {id}: {e}")))
}

/// Queue a job; with `wait`, answer with its result (200 when every target reached what
/// was asked, as the devices confirmed; 502 otherwise), else 202 and where to find it.
async fn run_job(
    app: &App,
    world: Arc<World>,
    who: String,
    cmd: Command,
    targets: Vec<Node>,
    wait: bool,
) -> Result<Response, Failure> {
    if wait {
        return Ok(job_answer(job_done(app, world, who, cmd, targets).await?));
    }
    let (id, _) = submit(app, world, who, cmd, targets)?;
    let mut r = (
        StatusCode::ACCEPTED,
        Json(json!({ "job": id, "state": "queued" })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/jobs/{id}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

fn job_answer(job: Job) -> Response {
    let code = if job.confirmed() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    (code, Json(job)).into_response()
}

async fn nodes(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let world = app.jobs.world();
    let list: Vec<Value> = world
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

async fn node_status(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(node): Path<String>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let world = app.jobs.world();
    let n = targets::node(&world.inventory, &node)?;
    run_job(&app, world, who.name, Command::Status, vec![n], true).await
}

async fn node_action(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((node, action)): Path<(String, String)>,
    q: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let cmd = command(&action)?;
    let wait = wait_of(q)?;
    let world = app.jobs.world();
    let n = targets::node(&world.inventory, &node)?;
    targets::may_switch(&who, std::slice::from_ref(&n), &world.inventory)?;
    run_job(&app, world, who.name, cmd, vec![n], wait).await
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
/// The token is checked before the body is read, and the body must come within
/// `BODY_TIMEOUT`.
async fn power(
    State(app): State<Shared>,
    h: HeaderMap,
    req: axum::extract::Request,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let body = tokio::time::timeout(
        BODY_TIMEOUT,
        axum::body::to_bytes(req.into_body(), MAX_BODY),
    )
    .await
    .map_err(|_| fail(StatusCode::REQUEST_TIMEOUT, "the body did not come in time"))?
    .map_err(|_| {
        fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a body is {MAX_BODY} bytes at most"),
        )
    })?;
    let body: PowerBody = serde_json::from_slice(&body)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("the body: {e}")))?;
    let world = app.jobs.world();
    let cmd = match body.action.as_str() {
        "status" => Command::Status,
        other => command(other)?,
    };
    let terms = hostlist::parse(&body.nodes).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let names = hostlist::select(&terms, world.inventory.names())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let found: Vec<Node> = names
        .iter()
        .filter_map(|n| world.inventory.node(n).cloned())
        .collect();
    if cmd != Command::Status {
        targets::may_switch(&who, &found, &world.inventory)?;
    }
    run_job(&app, world, who.name, cmd, found, body.wait).await
}

async fn devices(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let world = app.jobs.world();
    let inv = &world.inventory;
    let list: Vec<Value> = inv
        .devices
        .values()
        .map(|d| {
            json!({
                "device": d.name,
                "agent": d.agent.name.to_string(),
                "parent": match &d.parent {
                    Parent::Unknown => None,
                    Parent::Mains => Some("mains".to_string()),
                    Parent::Feed(f) => Some(f.to_string()),
                },
                "outlets": targets::plugs_of(inv, &d.name),
            })
        })
        .collect();
    Ok(Json(list).into_response())
}

/// Status of every outlet of a device that the inventory maps (one read of the device).
async fn outlets(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let world = app.jobs.world();
    let found = targets::device_outlets(&world.inventory, &device)?;
    run_job(&app, world, who.name, Command::Status, found, true).await
}

async fn outlet_action(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((device, plug, action)): Path<(String, String, String)>,
    q: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let cmd = command(&action)?;
    let wait = wait_of(q)?;
    let world = app.jobs.world();
    let target = targets::outlet(&world.inventory, &world.hosts, &device, &plug)?;
    targets::may_switch(&who, std::slice::from_ref(&target), &world.inventory)?;
    run_job(&app, world, who.name, cmd, vec![target], wait).await
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn job_list(
    State(app): State<Shared>,
    h: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let limit = query(q)?.limit.unwrap_or(100).min(1000);
    Ok(Json(app.jobs.recent(limit)).into_response())
}

async fn job_one(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let id: u64 = id
        .parse()
        .map_err(|_| fail(StatusCode::BAD_REQUEST, "job ids are numbers"))?;
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

/// How the service reads devices' meters beside its queues: no progress line, and a device
/// held by a long fencing job reported unread rather than holding the request past a
/// scraper's own timeout (Prometheus's is 10 s).
fn meter_read_options() -> crate::fleet::power::Options {
    crate::fleet::power::Options {
        progress: false,
        lock_wait: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

async fn metrics(State(app): State<Shared>, h: HeaderMap) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let mut text = app.jobs.metrics.render(&app.jobs.depths());
    let world = app.jobs.world();
    if let Some(read) = read_meters(&app, world).await {
        text.push_str(&crate::fleet::stats::prometheus(&read));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// Every meterable device's readings, at most once per `stats_max_age` (None: the
/// service reads no meters).
pub async fn read_meters(
    app: &App,
    world: Arc<World>,
) -> Option<Arc<Vec<crate::fleet::stats::DeviceStats>>> {
    app.stats
        .read(move || {
            let inv = &world.inventory;
            let every = crate::fleet::stats::meterable(inv);
            let opts = meter_read_options();
            crate::fleet::stats::collect(inv, &world.registry, &world.env, &every, &opts)
        })
        .await
}

#[derive(Deserialize)]
struct ChainQuery {
    live: Option<bool>,
    nodes: Option<String>,
}

/// The power chains of `nodes` (a host list), each link read from its device unless
/// `live=false`; with `check`, the risks found as well (docs/inventory.md). Reads take
/// the devices' lock files (shared where the device allows) but not the service's queues.
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
            chain::read_live(
                &mut chains,
                &world.inventory,
                &world.registry,
                &world.env,
                &opts,
            );
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
    q: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let live = query(q)?.live.unwrap_or(true);
    chain_answer(&app, &nodes, live, false).await
}

async fn chain_check(
    State(app): State<Shared>,
    h: HeaderMap,
    q: Result<Query<ChainQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let q = query(q)?;
    let nodes = q.nodes.as_deref().unwrap_or("all");
    chain_answer(&app, nodes, q.live.unwrap_or(false), true).await
}

/// A port as DCImanager's PDU handlers give it: its identifier and `up`, `down`, or
/// `unknown` with why.
fn port_view(plug: &str, feed: Option<&FeedResult>) -> Value {
    use crate::device::PowerState;
    let status = match feed.and_then(|f| if f.error.is_none() { f.state } else { None }) {
        Some(PowerState::On) => "up",
        Some(PowerState::Off) => "down",
        None => "unknown",
    };
    let mut v = json!({ "identify": plug, "power_status": status });
    if let Some(e) = feed.and_then(|f| f.error.as_ref()) {
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
    let world = app.jobs.world();
    let found = targets::device_outlets(&world.inventory, &device)?;
    let plugs: Vec<String> = found
        .iter()
        .map(|t| t.feeds.first().map_or(String::new(), |f| f.plug.clone()))
        .collect();
    let job = job_done(&app, world, who.name, Command::Status, found).await?;
    let ports: Vec<Value> = plugs
        .iter()
        .enumerate()
        .map(|(i, plug)| port_view(plug, job.target(i).and_then(|n| n.feeds.first())))
        .collect();
    Ok(Json(json!({ "device": device, "job": job.id, "ports": ports })).into_response())
}

/// `GET /v1/pdus/{device}/statistic`: DCImanager's statistic, every outlet the PDU
/// meters: its load (A), power (W) and energy (kWh, as DCImanager counts it), read from
/// the device now (`fencebox stats`), beside the reading queues (shared device locks).
async fn pdu_statistic(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
) -> Result<Response, Failure> {
    holder(&app, &h)?;
    let world = app.jobs.world();
    if !world.inventory.devices.contains_key(&device) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no device {device} in the inventory"),
        ));
    }
    // Only devices that meter anything are read: a device shell would be logged in to
    // under its exclusive lock, ahead of fencing calls, for nothing.
    if !crate::fleet::stats::meterable(&world.inventory).contains_key(&device) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("device {device} meters nothing fencebox reads (SNMP PDUs, upsd and BMCs do)"),
        ));
    }
    let name = device.clone();
    let read = tokio::task::spawn_blocking(move || {
        let one: crate::fleet::stats::Selection = [(name, None)].into_iter().collect();
        let opts = meter_read_options();
        crate::fleet::stats::collect(&world.inventory, &world.registry, &world.env, &one, &opts)
    })
    .await
    .map_err(|e| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the read failed: {e}"),
        )
    })?;
    let meter = match read.into_iter().next().map(|s| s.meter) {
        Some(Ok(m)) => m,
        Some(Err(e)) => return Err(fail(StatusCode::BAD_GATEWAY, e)),
        None => return Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "nothing read")),
    };
    let round = |v: Option<f64>| v.and_then(|v| crate::fleet::stats::number(v).parse::<f64>().ok());
    let ports: Vec<Value> = meter
        .iter()
        .flat_map(|m| &m.outlets)
        .map(|o| {
            json!({
                "identify": o.id,
                "name": o.name,
                "power_status": match o.state {
                    Some(crate::device::PowerState::On) => "up",
                    Some(crate::device::PowerState::Off) => "down",
                    None => "unknown",
                },
                "load": round(o.reading.current),
                "power": round(o.reading.power),
                "energy": round(o.reading.energy.map(|wh| wh / 1000.0)),
            })
        })
        .collect();
    Ok(Json(json!({ "device": device, "ports": ports })).into_response())
}

/// `POST /v1/pdus/{device}/ports/{port}/{up|down}`: DCImanager's port up and port down,
/// answered with the port as the device then confirmed it (502 when it did not).
async fn pdu_port(
    State(app): State<Shared>,
    h: HeaderMap,
    Path((device, port, action)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let who = holder(&app, &h)?;
    let cmd = match action.as_str() {
        "up" => Command::On,
        "down" => Command::Off,
        _ => return Err(fail(StatusCode::BAD_REQUEST, "a port goes up or down")),
    };
    let world = app.jobs.world();
    let target = targets::outlet(&world.inventory, &world.hosts, &device, &port)?;
    targets::may_switch(&who, std::slice::from_ref(&target), &world.inventory)?;
    let plug = target
        .feeds
        .first()
        .map_or(String::new(), |f| f.plug.clone());
    let job = job_done(&app, world, who.name, cmd, vec![target]).await?;
    let view = port_view(&plug, job.target(0).and_then(|n| n.feeds.first()));
    let code = if job.confirmed() {
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
