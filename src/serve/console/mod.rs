//! The web console (`/ui/`, same listener, TLS and tokens as the API; docs/console.md):
//! the node list with live states, each node's power chain as a tree with the chain
//! check's warnings, each device's outlets with their readings and an hour's plot, the
//! recent jobs, and switching for a control token, always through a confirmation page
//! that names the node and every outlet that will switch, and a result page that shows
//! what the devices confirmed.
//!
//! Pages are HTML from the server (maud, escaped by construction) that read fine without
//! JavaScript; a small script refreshes states and readings. Every page is sent with a
//! Content-Security-Policy that allows nothing but this service's own style sheet and
//! script, and is never cached.

pub mod assets;
pub mod live;
pub mod pages;
pub mod plot;
pub mod session;

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::Markup;
use serde::Deserialize;

use crate::fleet::hostlist;
use crate::fleet::inventory::Node;
use crate::fleet::power::Command;
use crate::serve::http::{App, Refused, Who};
use crate::serve::jobs::World;
use crate::serve::targets;
use live::NodeStates;
use session::{Session, Sessions};

type Shared = Arc<App>;

/// What the console keeps: sessions, the nodes' states, and whether its listener speaks
/// TLS (the session cookie is then Secure).
#[derive(Default)]
pub struct Console {
    pub sessions: Sessions,
    pub states: Arc<NodeStates>,
    pub secure: bool,
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(node_list))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/states", get(states))
        .route("/ui/nodes/{node}", get(node_page))
        .route("/ui/nodes/{node}/confirm", get(node_confirm))
        .route("/ui/nodes/{node}/power", post(node_power))
        .route("/ui/devices", get(device_list))
        .route("/ui/devices/{device}", get(device_page))
        .route("/ui/devices/{device}/confirm", get(outlet_confirm))
        .route("/ui/devices/{device}/power", post(outlet_power))
        .route("/ui/jobs", get(job_list))
        .route("/ui/jobs/{id}", get(job_page))
        .route(
            "/ui/style.css",
            get(|| async { asset("text/css", assets::STYLE) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript", assets::SCRIPT) }),
        )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A page with the headers every console page has.
fn html(code: StatusCode, body: Markup) -> Response {
    let mut r = (code, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// A page for a signed-in holder, its name on the log line.
fn page(s: &Session, code: StatusCode, body: Markup) -> Response {
    let mut r = html(code, body);
    r.extensions_mut().insert(Who(s.holder.name.clone()));
    r
}

/// A refusal as a page, its reason on the log line.
fn refuse(s: Option<&Session>, code: StatusCode, why: impl Into<String>) -> Response {
    let why = why.into();
    let mut r = html(code, pages::refused(s, code, &why));
    r.extensions_mut().insert(Refused(why));
    if let Some(s) = s {
        r.extensions_mut().insert(Who(s.holder.name.clone()));
    }
    r
}

/// The request's session; a reader without one is sent to the login form.
fn signed_in(app: &App, h: &HeaderMap) -> Result<Session, Response> {
    app.console.sessions.find(&app.tokens(), h).ok_or_else(|| {
        let mut r = Redirect::to("/ui/login").into_response();
        r.extensions_mut()
            .insert(Refused("no console session".into()));
        r
    })
}

/// A request that changes something: a session, a form of this session (its CSRF
/// token), sent from this service's own pages (the browser's Origin and Sec-Fetch-Site,
/// where it sends them). Anything else is 403 and changes nothing.
fn checked_post(app: &App, h: &HeaderMap, csrf: &str) -> Result<Session, Response> {
    if !same_origin(h) {
        return Err(refuse(
            None,
            StatusCode::FORBIDDEN,
            "a request from another site; use the console's own pages",
        ));
    }
    let Some(s) = app.console.sessions.find(&app.tokens(), h) else {
        return Err(refuse(
            None,
            StatusCode::FORBIDDEN,
            "no console session; sign in first",
        ));
    };
    if !app.console.sessions.csrf_ok(h, csrf) {
        return Err(refuse(
            Some(&s),
            StatusCode::FORBIDDEN,
            "the form is not one of this session's; open the page again",
        ));
    }
    Ok(s)
}

/// Whether the browser says the request comes from this service's own pages.
fn same_origin(h: &HeaderMap) -> bool {
    let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

#[derive(Deserialize, Default)]
struct NodeFilter {
    nodes: Option<String>,
    group: Option<String>,
}

impl NodeFilter {
    fn query(&self) -> String {
        let mut q = Vec::new();
        if let Some(n) = self.nodes.as_deref().filter(|n| !n.trim().is_empty()) {
            q.push(format!("nodes={}", percent(n)));
        }
        if let Some(g) = self.group.as_deref().filter(|g| !g.is_empty()) {
            q.push(format!("group={}", percent(g)));
        }
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    }

    /// The nodes it selects, in the inventory's order.
    fn select<'a>(&self, world: &'a World) -> Result<Vec<&'a Node>, String> {
        let inv = &world.inventory;
        let names: Option<std::collections::HashSet<String>> = match self
            .nodes
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            Some(text) => {
                let terms = hostlist::parse(text)?;
                Some(hostlist::select(&terms, inv.names())?.into_iter().collect())
            }
            None => None,
        };
        let group = self.group.as_deref().filter(|g| !g.is_empty());
        Ok(inv
            .nodes
            .iter()
            .filter(|n| names.as_ref().is_none_or(|s| s.contains(&n.name)))
            .filter(|n| group.is_none_or(|g| n.groups.iter().any(|x| x == g)))
            .collect())
    }
}

/// Text for a query string: everything but letters, digits and `-_.~` escaped.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn node_list(
    State(app): State<Shared>,
    h: HeaderMap,
    q: Result<Query<NodeFilter>, QueryRejection>,
) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let filter = q.map(|Query(f)| f).unwrap_or_default();
    let world = app.jobs.world();
    app.console.states.refresh(Arc::clone(&world));
    let (states, age) = app.console.states.get(&world);
    match filter.select(&world) {
        Ok(nodes) => page(
            &s,
            StatusCode::OK,
            pages::node_list(
                &s,
                &world,
                &nodes,
                &states,
                age,
                &filter.nodes,
                &filter.group,
                &filter.query(),
            ),
        ),
        Err(e) => {
            let mut r = page(
                &s,
                StatusCode::BAD_REQUEST,
                pages::node_list(
                    &s,
                    &world,
                    &[],
                    &states,
                    age,
                    &filter.nodes,
                    &filter.group,
                    "",
                ),
            );
            r.extensions_mut().insert(Refused(e));
            r
        }
    }
}

/// `GET /ui/states`: the states of the filter's nodes, for the node list's script.
async fn states(
    State(app): State<Shared>,
    h: HeaderMap,
    q: Result<Query<NodeFilter>, QueryRejection>,
) -> Response {
    let Some(s) = app.console.sessions.find(&app.tokens(), &h) else {
        return refuse(None, StatusCode::UNAUTHORIZED, "no console session");
    };
    let filter = q.map(|Query(f)| f).unwrap_or_default();
    let world = app.jobs.world();
    app.console.states.refresh(Arc::clone(&world));
    let (states, age) = app.console.states.get(&world);
    let nodes = filter.select(&world).unwrap_or_default();
    let mut counts = [0usize; 3];
    let listed: serde_json::Map<String, serde_json::Value> = nodes
        .iter()
        .map(|n| {
            let word = live::word(states.get(&n.name).copied().flatten());
            counts[match word {
                "ON" => 0,
                "OFF" => 1,
                _ => 2,
            }] += 1;
            (n.name.clone(), serde_json::Value::from(word))
        })
        .collect();
    let mut r = axum::Json(serde_json::json!({
        "states": listed,
        "age": pages::age_text(age),
        "counts": { "on": counts[0], "off": counts[1], "unknown": counts[2] },
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.extensions_mut().insert(Who(s.holder.name));
    r
}

async fn login_form(State(app): State<Shared>, h: HeaderMap) -> Response {
    if app.console.sessions.find(&app.tokens(), &h).is_some() {
        return Redirect::to("/ui/").into_response();
    }
    html(StatusCode::OK, pages::login(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

/// `POST /ui/login`: a token for a session cookie. The token is never written anywhere
/// (the log line names its holder).
async fn login(
    State(app): State<Shared>,
    h: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    if !same_origin(&h) {
        return refuse(None, StatusCode::FORBIDDEN, "a login from another site");
    }
    let Ok(Form(form)) = form else {
        let mut r = html(
            StatusCode::BAD_REQUEST,
            pages::login(Some("Paste a token into the form.")),
        );
        r.extensions_mut()
            .insert(Refused("no token in the form".into()));
        return r;
    };
    match app.console.sessions.login(&app.tokens(), &form.token) {
        Ok(Some((id, holder))) => {
            let mut r = Redirect::to("/ui/").into_response();
            if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&id, app.console.secure)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r.extensions_mut().insert(Who(holder.name));
            r
        }
        Ok(None) => {
            let mut r = html(
                StatusCode::UNAUTHORIZED,
                pages::login(Some(
                    "Unknown token. Ask for one made with fencebox token add.",
                )),
            );
            r.extensions_mut().insert(Refused("unknown token".into()));
            r
        }
        Err(e) => refuse(None, StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(app): State<Shared>,
    h: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    let s = match checked_post(&app, &h, &csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    app.console.sessions.logout(&h);
    let mut r = Redirect::to("/ui/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(app.console.secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.extensions_mut().insert(Who(s.holder.name));
    r
}

async fn node_page(State(app): State<Shared>, h: HeaderMap, Path(name): Path<String>) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let world = app.jobs.world();
    let Some(node) = world.inventory.node(&name).cloned() else {
        return refuse(
            Some(&s),
            StatusCode::NOT_FOUND,
            format!("no node {name} in the inventory"),
        );
    };
    let reader = Arc::clone(&world);
    let names = vec![node.name.clone()];
    let chains = tokio::task::spawn_blocking(move || {
        use crate::fleet::{chain, power};
        let mut chains = chain::chains(&reader.inventory, &names);
        let opts = power::Options {
            progress: false,
            ..power::Options::default()
        };
        chain::read_live(
            &mut chains,
            &reader.inventory,
            &reader.registry,
            &reader.env,
            &opts,
        );
        let risks = chain::check(&chains, true);
        (chains, risks)
    })
    .await;
    let Ok((chains, risks)) = chains else {
        return refuse(
            Some(&s),
            StatusCode::INTERNAL_SERVER_ERROR,
            "the chain could not be read",
        );
    };
    let may = targets::may_switch(&s.holder, std::slice::from_ref(&node), &world.inventory).is_ok();
    page(
        &s,
        StatusCode::OK,
        pages::node(&s, &node, &chains, &risks, may),
    )
}

#[derive(Deserialize)]
struct ActionQuery {
    action: Option<String>,
    plug: Option<String>,
}

fn switch_command(action: Option<&str>) -> Result<Command, String> {
    match action {
        Some("on") => Ok(Command::On),
        Some("off") => Ok(Command::Off),
        Some("reboot") => Ok(Command::Reboot),
        _ => Err("choose on, off or reboot".into()),
    }
}

/// What a switch is asked of: a node, or one outlet of a device.
enum Subject {
    Node(String),
    Outlet(String),
}

impl Subject {
    /// The target (an outlet as a one-feed stand-in), the URL its form posts to and the
    /// page to go back to.
    fn resolve(
        &self,
        world: &World,
        plug: &str,
    ) -> Result<(Node, String, String), (StatusCode, String)> {
        match self {
            Subject::Node(name) => {
                let node = world.inventory.node(name).cloned().ok_or_else(|| {
                    (
                        StatusCode::NOT_FOUND,
                        format!("no node {name} in the inventory"),
                    )
                })?;
                let page = format!("/ui/nodes/{}", percent(name));
                Ok((node, format!("{page}/power"), page))
            }
            Subject::Outlet(device) => {
                let target = targets::outlet(&world.inventory, &world.hosts, device, plug)
                    .map_err(|f| (f.0, f.1))?;
                let page = format!("/ui/devices/{}", percent(device));
                Ok((target, format!("{page}/power"), page))
            }
        }
    }

    fn plug<'a>(&self, plug: &'a str) -> Option<&'a str> {
        matches!(self, Subject::Outlet(_)).then_some(plug)
    }
}

async fn node_confirm(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<ActionQuery>, QueryRejection>,
) -> Response {
    confirm(&app, &h, Subject::Node(name), q)
}

async fn outlet_confirm(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
    q: Result<Query<ActionQuery>, QueryRejection>,
) -> Response {
    confirm(&app, &h, Subject::Outlet(device), q)
}

/// The confirmation of a switch: the target and every outlet that will switch.
fn confirm(
    app: &App,
    h: &HeaderMap,
    subject: Subject,
    q: Result<Query<ActionQuery>, QueryRejection>,
) -> Response {
    let s = match signed_in(app, h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = q.map(|Query(q)| q).ok();
    let cmd = match switch_command(q.as_ref().and_then(|q| q.action.as_deref())) {
        Ok(c) => c,
        Err(e) => return refuse(Some(&s), StatusCode::BAD_REQUEST, e),
    };
    let plug = q.and_then(|q| q.plug).unwrap_or_default();
    let world = app.jobs.world();
    let (target, action, back) = match subject.resolve(&world, &plug) {
        Ok(t) => t,
        Err((code, why)) => return refuse(Some(&s), code, why),
    };
    if let Err(f) = targets::may_switch(&s.holder, std::slice::from_ref(&target), &world.inventory)
    {
        return refuse(Some(&s), StatusCode::FORBIDDEN, f.1);
    }
    page(
        &s,
        StatusCode::OK,
        pages::confirm(
            &s,
            &world,
            cmd,
            &target,
            &action,
            subject.plug(&plug),
            &back,
        ),
    )
}

#[derive(Deserialize)]
struct PowerForm {
    action: String,
    csrf: String,
    plug: Option<String>,
}

async fn node_power(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<PowerForm>, FormRejection>,
) -> Response {
    power(&app, &h, Subject::Node(name), form)
}

async fn outlet_power(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(device): Path<String>,
    form: Result<Form<PowerForm>, FormRejection>,
) -> Response {
    power(&app, &h, Subject::Outlet(device), form)
}

/// A confirmed switch: checked (session, CSRF token, origin, the token's nodes), queued.
fn power(
    app: &App,
    h: &HeaderMap,
    subject: Subject,
    form: Result<Form<PowerForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return refuse(None, StatusCode::BAD_REQUEST, "the form is incomplete");
    };
    let s = match checked_post(app, h, &form.csrf) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let cmd = match switch_command(Some(&form.action)) {
        Ok(c) => c,
        Err(e) => return refuse(Some(&s), StatusCode::BAD_REQUEST, e),
    };
    let world = app.jobs.world();
    let plug = form.plug.unwrap_or_default();
    match subject.resolve(&world, &plug) {
        Ok((target, _, _)) => switch(app, &s, world, cmd, target),
        Err((code, why)) => refuse(Some(&s), code, why),
    }
}

/// Queue the switch and send the browser to its job's page.
fn switch(app: &App, s: &Session, world: Arc<World>, cmd: Command, target: Node) -> Response {
    if let Err(f) = targets::may_switch(&s.holder, std::slice::from_ref(&target), &world.inventory)
    {
        return refuse(Some(s), StatusCode::FORBIDDEN, f.1);
    }
    match crate::serve::api::submit(
        app,
        Arc::clone(&world),
        s.holder.name.clone(),
        cmd,
        vec![target],
    ) {
        Ok((id, handle)) => {
            let states = Arc::clone(&app.console.states);
            tokio::spawn(async move {
                if let Ok(job) = handle.await {
                    if let Some(o) = &job.outcome {
                        states.note(&world, o);
                    }
                }
            });
            let mut r = Redirect::to(&format!("/ui/jobs/{id}")).into_response();
            r.extensions_mut().insert(Who(s.holder.name.clone()));
            r
        }
        Err(f) => refuse(Some(s), f.0, f.1),
    }
}

async fn device_list(State(app): State<Shared>, h: HeaderMap) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let world = app.jobs.world();
    page(&s, StatusCode::OK, pages::device_list(&s, &world))
}

async fn device_page(
    State(app): State<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let world = app.jobs.world();
    if !world.inventory.devices.contains_key(&name) {
        return refuse(
            Some(&s),
            StatusCode::NOT_FOUND,
            format!("no device {name} in the inventory"),
        );
    }
    let metered =
        app.stats.enabled() && crate::fleet::stats::meterable(&world.inventory).contains_key(&name);
    let meter = if metered {
        crate::serve::api::read_meters(&app, Arc::clone(&world))
            .await
            .and_then(|all| all.iter().find(|d| d.device == name).cloned())
    } else {
        None
    };
    // Without readings, the outlets' states from a status read of those the nodes use.
    let outlets = match (&meter, targets::device_outlets(&world.inventory, &name)) {
        (Some(m), _) if matches!(m.meter, Ok(Some(_))) => None,
        (_, Ok(found)) => {
            let reader = Arc::clone(&world);
            tokio::task::spawn_blocking(move || {
                use crate::fleet::power;
                let refs: Vec<&Node> = found.iter().collect();
                let opts = power::Options {
                    progress: false,
                    ..power::Options::default()
                };
                power::run_targets(
                    &reader.inventory,
                    &reader.registry,
                    &reader.env,
                    &refs,
                    Command::Status,
                    &opts,
                    &|_| {},
                )
            })
            .await
            .ok()
        }
        (_, Err(_)) => None,
    };
    let history = |id: &str| app.stats.history(&name, id);
    page(
        &s,
        StatusCode::OK,
        pages::device(
            &s,
            &world,
            &name,
            meter.as_ref(),
            outlets.as_ref(),
            &history,
            app.stats.enabled(),
        ),
    )
}

async fn job_list(State(app): State<Shared>, h: HeaderMap) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    page(
        &s,
        StatusCode::OK,
        pages::job_list(&s, &app.jobs.recent(100)),
    )
}

async fn job_page(State(app): State<Shared>, h: HeaderMap, Path(id): Path<String>) -> Response {
    let s = match signed_in(&app, &h) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(job) = id.parse::<u64>().ok().and_then(|id| app.jobs.get(id)) else {
        return refuse(Some(&s), StatusCode::NOT_FOUND, format!("no job {id}"));
    };
    page(&s, StatusCode::OK, pages::job(&s, &job))
}
