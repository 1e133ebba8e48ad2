//! `fencebox serve`: the power service (docs/api.md). One process, one tokio runtime
//! (started only here: the `fence_*` agents never start one), listeners for the fencebox
//! API and PDUDaemon's protocols, one FIFO queue per device, a job journal on disk.
//!
//! Signals: SIGHUP reads the configuration's inventory and the tokens again (jobs already
//! queued keep what they started with; listeners stay as they are until a restart);
//! SIGTERM and SIGINT refuse new jobs, let the queued and running ones finish, then stop.

pub mod api;
pub mod command;
pub mod config;
pub mod console;
pub mod http;
pub mod jobs;
pub mod journal;
pub mod listen;
pub mod metrics;
pub mod openflight;
pub mod pdudaemon;
pub mod targets;
pub mod tokens;
pub mod world;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::runtime::env::Env;
use crate::serve::config::Config;
use crate::serve::http::App;
use crate::serve::jobs::Jobs;
use crate::serve::journal::Journal;
use crate::serve::metrics::Metrics;
use crate::serve::tokens::Tokens;
use crate::serve::world::world;

/// Run the service until SIGTERM. Errors before it listens (configuration, inventory,
/// tokens, journal, an address in use) are one line.
pub fn run(config_path: &Path, env: Env) -> Result<(), String> {
    let config = config::load(config_path)?;
    let world = world(&config, &env)?;
    let tokens = Tokens::load(&config.tokens)?;
    let recovered = Journal::open(&config.journal, config.journal_limit)?;
    for (id, note) in &recovered.interrupted {
        eprintln!("fencebox serve: job {id} was interrupted by the service's end: {note}");
    }
    if tokens.is_empty() && !config.listen.is_empty() {
        eprintln!(
            "fencebox serve: {} holds no token; the API refuses every request (fencebox token add NAME)",
            config.tokens.display()
        );
    }
    let jobs = Arc::new(Jobs::new(
        world,
        recovered.journal,
        recovered.next_id,
        jobs::from_events(&recovered.jobs),
        Arc::new(Metrics::default()),
    ));
    let app = Arc::new(App {
        jobs,
        tokens: std::sync::RwLock::new(Arc::new(tokens)),
        request_ids: AtomicU64::new(0),
        stats: crate::serve::metrics::StatsCache::new(config.stats_max_age),
        console: crate::serve::console::Console {
            secure: config.tls.is_some(),
            ..Default::default()
        },
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fencebox-serve")
        .build()
        .map_err(|e| format!("cannot start the service's runtime: {e}"))?;
    rt.block_on(serve(config, app, env))
}

async fn bind(addrs: &[SocketAddr], what: &str) -> Result<Vec<TcpListener>, String> {
    let mut out = Vec::new();
    for a in addrs {
        let l = TcpListener::bind(a)
            .await
            .map_err(|e| format!("{what} on {a}: {e}"))?;
        let local = l.local_addr().map_err(|e| e.to_string())?;
        eprintln!("fencebox serve: {what} listening on {local}");
        out.push(l);
    }
    Ok(out)
}

/// Every listener the configuration names, bound (so an address in use is an error before
/// the service says it is ready) and spawned.
async fn listen_all(
    config: &Config,
    app: &Arc<App>,
    stop: &watch::Receiver<bool>,
    servers: &mut tokio::task::JoinSet<()>,
) -> Result<(), String> {
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let tls = match &config.tls {
        Some(t) => Some(listen::tls_acceptor(&t.certificate, &t.key)?),
        None => None,
    };
    let mut http: Vec<(TcpListener, axum::Router, Option<tokio_rustls::TlsAcceptor>)> = Vec::new();
    for l in bind(&config.listen, "api").await? {
        http.push((l, api::router(Arc::clone(app)), tls.clone()));
    }
    if let Some(o) = &config.openflight {
        let secret = match &o.jwt_secret_file {
            Some(path) => Some(openflight::read_secret(path)?),
            None => None,
        };
        for l in bind(&o.listen, "openflight").await? {
            http.push((
                l,
                openflight::router(Arc::clone(app), secret.clone()),
                tls.clone(),
            ));
        }
    }
    if let Some(p) = &config.pdudaemon {
        let conf = Arc::new(p.clone());
        // PDUDaemon's clients speak plain HTTP only.
        for l in bind(&p.http, "pdudaemon-http").await? {
            http.push((
                l,
                pdudaemon::router(Arc::clone(app), Arc::clone(&conf)),
                None,
            ));
        }
        for l in bind(&p.tcp, "pdudaemon-tcp").await? {
            servers.spawn(pdudaemon::serve_tcp(
                l,
                Arc::clone(app),
                Arc::clone(&conf),
                Arc::clone(&slots),
                stop.clone(),
            ));
        }
    }
    for (l, router, tls) in http {
        servers.spawn(listen::serve(
            l,
            router,
            tls,
            Arc::clone(&slots),
            stop.clone(),
        ));
    }
    Ok(())
}

async fn serve(config: Config, app: Arc<App>, env: Env) -> Result<(), String> {
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    listen_all(&config, &app, &stop_rx, &mut servers).await?;
    eprintln!("fencebox serve: ready ({})", config.path.display());
    let mut current = config;
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&mut current, &app, &env),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    eprintln!("fencebox serve: stopping: no new jobs; waiting for the queued and running ones");
    app.jobs.close();
    app.jobs.drained().await;
    let _ = stop_tx.send(true);
    // Requests in flight end with their jobs, done above; a client that holds a
    // connection beyond that is not waited for long.
    let _ = tokio::time::timeout(listen::HEAD_TIMEOUT, async {
        while servers.join_next().await.is_some() {}
    })
    .await;
    eprintln!("fencebox serve: stopped");
    Ok(())
}

/// SIGHUP: the inventory (with its pdudaemon.conf) and the tokens again. A file that does
/// not read keeps the old one, with a line saying why. Listeners, TLS, the OpenFlight
/// secret and the journal stay as they were started.
fn reload(current: &mut Config, app: &App, env: &Env) {
    let fresh = match config::load(&current.path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fencebox serve: reload refused, the running configuration stays: {e}");
            return;
        }
    };
    let listeners = |c: &Config| {
        (
            c.listen.clone(),
            c.tls.clone(),
            c.max_connections,
            c.journal.clone(),
            c.journal_limit,
            c.openflight.clone(),
            c.pdudaemon
                .as_ref()
                .map(|p| (p.http.clone(), p.tcp.clone(), p.allow.clone())),
        )
    };
    if listeners(&fresh) != listeners(current) {
        eprintln!(
            "fencebox serve: reload: listeners, TLS, the OpenFlight secret and the journal change only with a restart"
        );
    }
    match world(&fresh, env) {
        Ok(w) => app.jobs.replace_world(w),
        Err(e) => eprintln!("fencebox serve: reload: inventory kept: {e}"),
    }
    match Tokens::load(&fresh.tokens) {
        Ok(t) => *app.tokens.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(t),
        Err(e) => eprintln!("fencebox serve: reload: tokens kept: {e}"),
    }
    app.stats.set_max_age(fresh.stats_max_age);
    // What the running listeners were started with is kept; the rest is as read now.
    *current = Config {
        inventory: fresh.inventory,
        tokens: fresh.tokens,
        stats_max_age: fresh.stats_max_age,
        pdudaemon: match (&current.pdudaemon, fresh.pdudaemon) {
            (Some(old), Some(new)) => Some(config::PduDaemon {
                config: new.config,
                ..old.clone()
            }),
            (old, _) => old.clone(),
        },
        ..current.clone()
    };
    eprintln!("fencebox serve: reloaded");
}
