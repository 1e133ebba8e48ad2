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
pub mod jobs;
pub mod journal;
pub mod listen;
pub mod metrics;
pub mod openflight;
pub mod pdudaemon;
pub mod tokens;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::contract::agents::Registry;
use crate::fleet::inventory;
use crate::runtime::env::Env;
use crate::serve::api::App;
use crate::serve::config::Config;
use crate::serve::jobs::{Jobs, World};
use crate::serve::journal::Journal;
use crate::serve::metrics::Metrics;
use crate::serve::tokens::Tokens;

/// What jobs run with, read from the configuration.
fn world(config: &Config, env: &Env) -> Result<World, String> {
    let registry = Registry::load(&env.agents_dir);
    let path = config
        .inventory
        .clone()
        .unwrap_or_else(|| env.inventory.clone());
    let mut inventory = inventory::load(&path, &registry)?;
    if let Some(conf) = config.pdudaemon.as_ref().and_then(|p| p.config.as_ref()) {
        merge_pdudaemon(&mut inventory, conf, &registry)?;
    }
    Ok(World {
        inventory,
        registry,
        env: Env {
            // The service is not pacemaker-fenced, whatever its environment says.
            under_pacemaker: false,
            ..env.clone()
        },
    })
}

/// Add the PDUs and aliases of a pdudaemon.conf to the inventory (as `fencebox inventory
/// import pdudaemon` would write them), each note of the import said once. A name both
/// have is an error: which one a client means would be a guess.
fn merge_pdudaemon(
    inv: &mut inventory::Inventory,
    conf: &Path,
    registry: &Registry,
) -> Result<(), String> {
    use crate::fleet::import::{self, Secrets, Source};
    let text = import::read_input(Source::PduDaemon, Some(conf))?;
    let imported = import::pdudaemon::import(&text, registry, Secrets::Inline)
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    for note in &imported.notes {
        eprintln!("fencebox serve: {}: {note}", conf.display());
    }
    let extra = inventory::parse(conf, &imported.toml, true, registry)?;
    for (name, device) in extra.devices {
        if inv.devices.contains_key(&name) {
            return Err(format!(
                "{}: PDU {name} is also a device of {}; rename one",
                conf.display(),
                inv.path.display()
            ));
        }
        inv.devices.insert(name, device);
    }
    for node in extra.nodes {
        if inv.node(&node.name).is_some() {
            return Err(format!(
                "{}: alias {} is also a node of {}; rename one",
                conf.display(),
                node.name,
                inv.path.display()
            ));
        }
        inv.nodes.push(node);
    }
    inv.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// Run the service until SIGTERM. Errors before it listens (configuration, inventory,
/// tokens, journal, an address in use) are one line.
pub fn run(config_path: &Path, env: Env) -> Result<(), String> {
    let config = config::load(config_path)?;
    let world = world(&config, &env)?;
    let tokens = Tokens::load(&config.tokens)?;
    let recovered = Journal::open(&config.journal)?;
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

async fn serve(config: Config, app: Arc<App>, env: Env) -> Result<(), String> {
    let api_listeners = bind(&config.listen, "api").await?;
    let (pdu_http, pdu_tcp) = match &config.pdudaemon {
        Some(p) => (
            bind(&p.http, "pdudaemon-http").await?,
            bind(&p.tcp, "pdudaemon-tcp").await?,
        ),
        None => (vec![], vec![]),
    };
    let flight = match &config.openflight {
        Some(o) => {
            let secret = match &o.jwt_secret_file {
                Some(path) => Some(openflight::read_secret(path)?),
                None => None,
            };
            Some((bind(&o.listen, "openflight").await?, secret))
        }
        None => None,
    };
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let tls = match &config.tls {
        Some(t) => Some(listen::tls_acceptor(&t.certificate, &t.key)?),
        None => None,
    };
    for l in api_listeners {
        servers.spawn(listen::serve(
            l,
            api::router(Arc::clone(&app)),
            tls.clone(),
            Arc::clone(&slots),
            stop_rx.clone(),
        ));
    }
    if let Some(p) = &config.pdudaemon {
        let conf = Arc::new(p.clone());
        for l in pdu_http {
            servers.spawn(listen::serve(
                l,
                pdudaemon::router(Arc::clone(&app), Arc::clone(&conf)),
                None,
                Arc::clone(&slots),
                stop_rx.clone(),
            ));
        }
        for l in pdu_tcp {
            servers.spawn(pdudaemon::serve_tcp(
                l,
                Arc::clone(&app),
                Arc::clone(&conf),
                stop_rx.clone(),
            ));
        }
    }
    if let Some((listeners, secret)) = flight {
        for l in listeners {
            servers.spawn(listen::serve(
                l,
                openflight::router(Arc::clone(&app), secret.clone()),
                tls.clone(),
                Arc::clone(&slots),
                stop_rx.clone(),
            ));
        }
    }
    eprintln!("fencebox serve: ready ({})", config.path.display());
    loop {
        tokio::select! {
            _ = hup.recv() => reload(&config, &app, &env),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    eprintln!("fencebox serve: stopping: no new jobs; waiting for the queued and running ones");
    app.jobs.close();
    app.jobs.drained().await;
    let _ = stop_tx.send(true);
    while servers.join_next().await.is_some() {}
    eprintln!("fencebox serve: stopped");
    Ok(())
}

/// SIGHUP: the inventory and the tokens again. A file that does not read keeps the old
/// one, with a line saying why.
fn reload(config: &Config, app: &App, env: &Env) {
    let fresh = match config::load(&config.path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fencebox serve: reload refused, the running configuration stays: {e}");
            return;
        }
    };
    if fresh.listen != config.listen
        || fresh.pdudaemon != config.pdudaemon
        || fresh.openflight != config.openflight
        || fresh.tls != config.tls
        || fresh.max_connections != config.max_connections
        || fresh.journal != config.journal
    {
        eprintln!(
            "fencebox serve: reload: listeners, TLS, secrets and the journal change only with a restart"
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
    eprintln!("fencebox serve: reloaded");
}
