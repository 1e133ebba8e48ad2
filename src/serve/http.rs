//! What every HTTP listener of the service shares: the application state, error answers,
//! the one log line per request (with its id, route, status, the token's name and why a
//! request was refused), HEAD refused before it reaches a handler, and the layering of a
//! router with all of that.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::serve::jobs::Jobs;
use crate::serve::tokens::{Holder, Tokens};

pub struct App {
    pub jobs: Arc<Jobs>,
    pub tokens: std::sync::RwLock<Arc<Tokens>>,
    pub request_ids: AtomicU64,
    /// The devices' readings served in `/metrics` and on the console.
    pub stats: crate::serve::metrics::StatsCache,
    /// The web console's sessions and node states.
    pub console: crate::serve::console::Console,
}

impl App {
    pub fn tokens(&self) -> Arc<Tokens> {
        Arc::clone(&self.tokens.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The next request id (HTTP and TCP requests share the sequence).
    pub fn request_id(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// An error answer of the API: a status and one line of JSON.
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

pub fn fail(code: StatusCode, msg: impl Into<String>) -> Failure {
    Failure(code, msg.into())
}

/// Why a request was refused or failed, carried on the response to its log line (so that
/// every line about a request is that one line, with the request's id).
#[derive(Clone)]
pub struct Refused(pub String);

/// Who made a request, when it was not a bearer token (a console session): its token's
/// name, carried on the response to the log line.
#[derive(Clone)]
pub struct Who(pub String);

/// The route a request matched (its pattern), carried on the response to the log line.
#[derive(Clone)]
struct RouteLabel(String);

/// The bearer token of a request, if it sends one.
pub fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = v.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The holder of the request's token, or 401.
pub fn holder(app: &App, h: &HeaderMap) -> Result<Holder, Failure> {
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

/// Text from a client, made safe for one log line: control characters escaped, at most
/// 200 characters.
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// `router` with what every listener has: the route label, the fallback, `guard` (a
/// check every request passes, unknown routes included), HEAD refused, the log line and
/// the request counters.
pub fn layered<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    app: &Arc<App>,
    fallback: fn() -> Response,
    guard: impl FnOnce(Router<S>) -> Router<S>,
    state: S,
) -> Router {
    let routed = router
        .route_layer(axum::middleware::from_fn(label_route))
        .fallback(move || async move { fallback() });
    guard(routed)
        .layer(axum::middleware::from_fn(refuse_head))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(app),
            log_request,
        ))
        .with_state(state)
}

async fn label_route(req: Request, next: Next) -> Response {
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

/// HEAD acts on nothing: a router would answer it by running the GET handler, which
/// reads (or, for PDUDaemon's routes, switches) devices.
async fn refuse_head(req: Request, next: Next) -> Response {
    if req.method() == Method::HEAD {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")]).into_response();
        r.extensions_mut()
            .insert(Refused("HEAD acts on nothing".into()));
        return r;
    }
    next.run(req).await
}

/// One log line per request, with its id, route, code and the token's name (never the
/// token), and the request counters of `/metrics`.
async fn log_request(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let id = app.request_id();
    let started = Instant::now();
    let method = req.method().clone();
    let who = bearer(req.headers())
        .and_then(|t| app.tokens().find(t))
        .map_or("-".to_string(), |h| h.name);
    let resp = next.run(req).await;
    let who = resp.extensions().get::<Who>().map_or(who, |w| w.0.clone());
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
        .map_or(String::new(), |r| format!(": {}", printable(&r.0)));
    eprintln!(
        "fencebox serve: req={id} {method} {route} -> {} in {} ms, token {who}{why}",
        resp.status().as_u16(),
        took.as_millis()
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn client_text_cannot_make_a_log_line_of_its_own() {
        assert_eq!(printable("n1\nreq=7 GET -> 200"), "n1\\nreq=7 GET -> 200");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable(&"x".repeat(300)).chars().count(), 201);
    }
}
