//! Jobs and the per-device queues. Every device of the inventory has one FIFO queue in
//! the service (a fair async mutex: waiters are served in arrival order); a job waits in
//! the queues of all its devices, taken in name order so two jobs never hold one each of
//! the other's, then runs the fleet engine, which also takes the devices' lock files (so
//! `fence_*` calls on this host and the service wait for each other). A reboot is one job:
//! it holds its devices from the first off to the last confirmed on.
//!
//! A job runs to its end once queued, whether or not the client still waits for it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Mutex as Queue, Notify, OwnedMutexGuard};

use crate::contract::agents::Registry;
use crate::fleet::inventory::{Feed, Inventory, Node};
use crate::fleet::power::{self, Command};
use crate::fleet::report;
use crate::runtime::env::Env;
use crate::runtime::log::timestamp;
use crate::serve::journal::{Event, Journal};
use crate::serve::metrics::Metrics;

/// Jobs kept in memory for `GET /v1/jobs` (the journal keeps all of them).
const KEPT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
    Interrupted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: u64,
    pub who: String,
    pub action: String,
    pub targets: Vec<String>,
    pub feeds: Vec<String>,
    pub state: State,
    pub queued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// The engine's result: per target, the confirmed state and every feed's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// An interrupted job: what it left undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a caller asks: a command on targets (nodes, or outlets as one-feed stand-ins).
pub struct Request {
    pub who: String,
    pub command: Command,
    pub targets: Vec<Node>,
    /// A pause between a reboot's off and on halves (PDUDaemon's `delay`).
    pub pause: Duration,
}

/// What the service runs jobs with; swapped whole on a reload.
pub struct World {
    pub inventory: Inventory,
    pub registry: Registry,
    pub env: Env,
}

pub struct Jobs {
    world: RwLock<Arc<World>>,
    queues: Mutex<BTreeMap<String, Arc<Queue<()>>>>,
    waiting: Mutex<BTreeMap<String, usize>>,
    table: Mutex<VecDeque<Job>>,
    journal: Journal,
    next_id: AtomicU64,
    running: AtomicUsize,
    idle: Notify,
    closing: AtomicBool,
    pub metrics: Arc<Metrics>,
}

impl Jobs {
    pub fn new(
        world: World,
        journal: Journal,
        next_id: u64,
        old: Vec<Job>,
        metrics: Arc<Metrics>,
    ) -> Jobs {
        let mut table: VecDeque<Job> = old.into_iter().collect();
        while table.len() > KEPT {
            table.pop_front();
        }
        Jobs {
            world: RwLock::new(Arc::new(world)),
            queues: Mutex::new(BTreeMap::new()),
            waiting: Mutex::new(BTreeMap::new()),
            table: Mutex::new(table),
            journal,
            next_id: AtomicU64::new(next_id),
            running: AtomicUsize::new(0),
            idle: Notify::new(),
            closing: AtomicBool::new(false),
            metrics,
        }
    }

    pub fn world(&self) -> Arc<World> {
        Arc::clone(&self.world.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A new inventory and registry for jobs queued from now on; running jobs keep theirs.
    pub fn replace_world(&self, world: World) {
        *self.world.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(world);
    }

    /// Refuse new jobs from now on (SIGTERM).
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Wait until no job is queued or running.
    pub async fn drained(&self) {
        loop {
            let notified = self.idle.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    pub fn get(&self, id: u64) -> Option<Job> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().find(|j| j.id == id).cloned()
    }

    /// The newest jobs first.
    pub fn recent(&self, limit: usize) -> Vec<Job> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.iter().rev().take(limit).cloned().collect()
    }

    /// Queue depth by device: jobs waiting for it or holding it.
    pub fn depths(&self) -> BTreeMap<String, usize> {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = t.iter_mut().find(|j| j.id == id) {
            f(j);
        }
    }

    fn journal(&self, ev: &Event) {
        if let Err(e) = self.journal.append(ev) {
            eprintln!("fencebox serve: {e}");
        }
    }

    /// Queue a job and return its id and a handle that ends with the finished job. The job
    /// runs to its end even if the handle is dropped. Refused while the service stops.
    pub fn submit(
        self: &Arc<Self>,
        req: Request,
    ) -> Result<(u64, tokio::task::JoinHandle<Job>), String> {
        if self.closing() {
            return Err("the service is stopping; no new jobs".into());
        }
        let world = self.world();
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let targets: Vec<String> = req.targets.iter().map(|n| n.name.clone()).collect();
        let feeds: Vec<Feed> = req.targets.iter().flat_map(|n| n.power_feeds()).collect();
        let mut devices: Vec<String> = feeds.iter().map(|f| f.device.clone()).collect();
        devices.sort();
        devices.dedup();
        let job = Job {
            id,
            who: req.who.clone(),
            action: req.command.name().into(),
            targets: targets.clone(),
            feeds: feeds.iter().map(Feed::to_string).collect(),
            state: State::Queued,
            queued_at: timestamp(),
            started_at: None,
            ended_at: None,
            result: None,
            note: None,
        };
        self.journal(&Event::Queued {
            job: id,
            at: job.queued_at.clone(),
            who: job.who.clone(),
            action: job.action.clone(),
            targets,
            feeds: job.feeds.clone(),
        });
        {
            let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            t.push_back(job);
            while t.len() > KEPT {
                t.pop_front();
            }
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        let jobs = Arc::clone(self);
        let handle = tokio::spawn(async move {
            let job = jobs.run(id, world, devices, req).await;
            if jobs.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                jobs.idle.notify_waiters();
            }
            job
        });
        Ok((id, handle))
    }

    async fn run(
        self: &Arc<Self>,
        id: u64,
        world: Arc<World>,
        devices: Vec<String>,
        req: Request,
    ) -> Job {
        let queued = Instant::now();
        let guards = self.enqueue(&devices).await;
        let started_at = timestamp();
        self.journal(&Event::Started {
            job: id,
            at: started_at.clone(),
        });
        self.update(id, |j| {
            j.state = State::Running;
            j.started_at = Some(started_at);
        });
        let jobs = Arc::clone(self);
        let command = req.command;
        let began = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            let refs: Vec<&Node> = req.targets.iter().collect();
            let opts = power::Options {
                progress: false,
                ..power::Options::default()
            };
            let halfway = |off: &[String]| {
                jobs.journal(&Event::Halfway {
                    job: id,
                    at: timestamp(),
                    off: off.to_vec(),
                });
                if !off.is_empty() {
                    std::thread::sleep(req.pause);
                }
            };
            power::run_targets(
                &world.inventory,
                &world.registry,
                &world.env,
                &refs,
                command,
                &opts,
                &halfway,
            )
        })
        .await;
        let (ok, result) = match outcome {
            Ok(o) => {
                self.metrics
                    .job_done(&devices, began.elapsed(), queued.elapsed(), &o);
                (o.all_ok(), report::json_value(&o))
            }
            Err(e) => (
                false,
                serde_json::json!({ "error": format!("the job failed: {e}") }),
            ),
        };
        drop(guards);
        self.dequeued(&devices);
        let ended_at = timestamp();
        self.journal(&Event::Ended {
            job: id,
            at: ended_at.clone(),
            ok,
            result: result.clone(),
        });
        self.update(id, |j| {
            j.state = if ok { State::Done } else { State::Failed };
            j.ended_at = Some(ended_at);
            j.result = Some(result);
        });
        self.get(id).unwrap_or_else(|| unreachable_job(id))
    }

    /// Wait in every device's queue, in name order.
    async fn enqueue(&self, devices: &[String]) -> Vec<OwnedMutexGuard<()>> {
        let queues: Vec<Arc<Queue<()>>> = {
            let mut q = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            devices
                .iter()
                .map(|d| {
                    *w.entry(d.clone()).or_default() += 1;
                    Arc::clone(q.entry(d.clone()).or_default())
                })
                .collect()
        };
        let mut guards = Vec::with_capacity(queues.len());
        for q in queues {
            guards.push(q.lock_owned().await);
        }
        guards
    }

    fn dequeued(&self, devices: &[String]) {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for d in devices {
            if let Some(n) = w.get_mut(d) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

/// A job is in the table from its submission; should it have been pushed out (over
/// `KEPT` newer ones), say so rather than panic.
fn unreachable_job(id: u64) -> Job {
    Job {
        id,
        who: String::new(),
        action: String::new(),
        targets: vec![],
        feeds: vec![],
        state: State::Done,
        queued_at: String::new(),
        started_at: None,
        ended_at: None,
        result: None,
        note: Some("the job left the in-memory table; see the journal".into()),
    }
}

/// The jobs of a journal, as the table shows them.
pub fn from_events(jobs: &BTreeMap<u64, Vec<Event>>) -> Vec<Job> {
    let mut out = Vec::new();
    for (id, events) in jobs {
        let mut job = Job {
            id: *id,
            who: String::new(),
            action: String::new(),
            targets: vec![],
            feeds: vec![],
            state: State::Queued,
            queued_at: String::new(),
            started_at: None,
            ended_at: None,
            result: None,
            note: None,
        };
        for ev in events {
            match ev {
                Event::Queued {
                    at,
                    who,
                    action,
                    targets,
                    feeds,
                    ..
                } => {
                    job.queued_at = at.clone();
                    job.who = who.clone();
                    job.action = action.clone();
                    job.targets = targets.clone();
                    job.feeds = feeds.clone();
                }
                Event::Started { at, .. } => {
                    job.state = State::Running;
                    job.started_at = Some(at.clone());
                }
                Event::Halfway { .. } => {}
                Event::Ended { at, ok, result, .. } => {
                    job.state = if *ok { State::Done } else { State::Failed };
                    job.ended_at = Some(at.clone());
                    job.result = Some(result.clone());
                }
                Event::Interrupted { at, note, .. } => {
                    job.state = State::Interrupted;
                    job.ended_at = Some(at.clone());
                    job.note = Some(note.clone());
                }
            }
        }
        out.push(job);
    }
    out
}

/// A stand-in target for one outlet asked for by device and plug: the node it feeds when
/// the inventory has one (so the node's name shows), else the feed itself.
pub fn outlet_target(inv: &Inventory, feed: Feed) -> Node {
    let name = match inv.node_fed_by(&feed) {
        Some(n) => format!("{} ({feed})", n.name),
        None => feed.to_string(),
    };
    Node {
        name,
        groups: vec![],
        feeds: vec![feed],
        bmc: None,
        line: 0,
    }
}
