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

use crate::fleet::inventory::{Feed, Inventory, Node};
use crate::fleet::power::{self, Command};
use crate::fleet::report;
use crate::runtime::log::timestamp;
use crate::serve::journal::{Event, Journal};
use crate::serve::metrics::Metrics;
pub use crate::serve::world::World;

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
    /// The engine's result, typed (answers read it; `result` is its JSON).
    #[serde(skip)]
    pub outcome: Option<Arc<power::Outcome>>,
}

impl Job {
    fn new(id: u64, who: String, action: String, targets: Vec<String>, feeds: Vec<String>) -> Job {
        Job {
            id,
            who,
            action,
            targets,
            feeds,
            state: State::Queued,
            queued_at: timestamp(),
            started_at: None,
            ended_at: None,
            result: None,
            note: None,
            outcome: None,
        }
    }

    /// Whether the job ended with every target where it was asked to be, as the devices
    /// confirmed.
    pub fn confirmed(&self) -> bool {
        self.state == State::Done && self.outcome.as_ref().is_some_and(|o| o.all_ok())
    }

    /// Target `i`'s result, when the job ran.
    pub fn target(&self, i: usize) -> Option<&power::NodeResult> {
        self.outcome.as_ref()?.nodes.get(i)
    }

    /// A target's result by name.
    pub fn target_named(&self, name: &str) -> Option<&power::NodeResult> {
        self.outcome.as_ref()?.nodes.iter().find(|n| n.node == name)
    }

    /// Whether the job has ended (done, failed or interrupted).
    pub fn finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed | State::Interrupted)
    }
}

/// What a caller asks: a command on targets (nodes, or outlets as one-feed stand-ins).
pub struct Request {
    pub who: String,
    pub command: Command,
    pub targets: Vec<Node>,
    /// A pause between a reboot's off and on halves (PDUDaemon's `delay`); cut short
    /// when the service stops.
    pub pause: Duration,
    /// The inventory the targets were found and authorised in: the job runs on it, even
    /// if a reload comes in between.
    pub world: Arc<World>,
}

/// Jobs that may wait for one device; more are refused (a client that gives up does not
/// take its job back, so a flood would hold the device for hours).
pub const MAX_WAITING: usize = 256;

/// The queue a device's jobs wait in: its address where it has one, so that two inventory
/// names of one device share a queue (and its lock file), else its name.
fn queue_key(inv: &Inventory, device: &str) -> String {
    use crate::fleet::inventory::Value;
    let option = |key: &str| {
        inv.devices.get(device).and_then(|d| {
            d.options.iter().find_map(|(k, v)| match v {
                Value::Plain(text) if k == key => Some(text.clone()),
                _ => None,
            })
        })
    };
    match option("ip") {
        Some(ip) => format!("{ip}:{}", option("ipport").unwrap_or_default()),
        None => format!("device {device}"),
    }
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

    /// Queue depth by inventory device name (every device, idle ones at 0): jobs waiting
    /// for it or holding it. Two names of one device share a queue, so both show it.
    pub fn depths(&self) -> BTreeMap<String, usize> {
        let world = self.world();
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        world
            .inventory
            .devices
            .keys()
            .map(|name| {
                let key = queue_key(&world.inventory, name);
                (name.clone(), waiting.get(&key).copied().unwrap_or(0))
            })
            .collect()
    }

    fn update(&self, job: &Job) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(j) = t.iter_mut().find(|j| j.id == job.id) {
            *j = job.clone();
        }
    }

    fn journal(&self, ev: &Event) {
        if let Err(e) = self.journal.append(ev) {
            eprintln!("fencebox serve: {e}");
        }
    }

    /// Queue a job and return its id and a handle that ends with the finished job. The job
    /// runs to its end even if the handle is dropped. Refused while the service stops, and
    /// when a device has `MAX_WAITING` jobs already.
    pub fn submit(
        self: &Arc<Self>,
        req: Request,
    ) -> Result<(u64, tokio::task::JoinHandle<Job>), String> {
        // Counted before the check, so a drain that saw no job cannot miss this one.
        self.running.fetch_add(1, Ordering::SeqCst);
        let refused = |jobs: &Jobs, why: String| {
            if jobs.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                jobs.idle.notify_waiters();
            }
            Err(why)
        };
        if self.closing() {
            return refused(self, "the service is stopping; no new jobs".into());
        }
        let feeds: Vec<Feed> = req.targets.iter().flat_map(|n| n.power_feeds()).collect();
        let mut keys: Vec<String> = feeds
            .iter()
            .map(|f| queue_key(&req.world.inventory, &f.device))
            .collect();
        keys.sort();
        keys.dedup();
        if let Err(why) = self.enqueue_count(&keys) {
            return refused(self, why);
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let job = Job::new(
            id,
            req.who.clone(),
            req.command.name().into(),
            req.targets.iter().map(|n| n.name.clone()).collect(),
            feeds.iter().map(Feed::to_string).collect(),
        );
        self.journal(&Event::Queued {
            job: id,
            at: job.queued_at.clone(),
            who: job.who.clone(),
            action: job.action.clone(),
            targets: job.targets.clone(),
            feeds: job.feeds.clone(),
        });
        self.remember(job.clone());
        let jobs = Arc::clone(self);
        let handle = tokio::spawn(async move {
            let job = jobs.run(job, keys, req).await;
            if jobs.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                jobs.idle.notify_waiters();
            }
            job
        });
        Ok((id, handle))
    }

    /// Keep a job in the table; past `KEPT`, the oldest finished jobs leave it (a queued or
    /// running job never does).
    fn remember(&self, job: Job) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.push_back(job);
        while t.len() > KEPT {
            match t.iter().position(Job::finished) {
                Some(i) => {
                    t.remove(i);
                }
                None => break,
            }
        }
    }

    async fn run(self: &Arc<Self>, mut job: Job, keys: Vec<String>, req: Request) -> Job {
        let id = job.id;
        let queued = Instant::now();
        let guards = self.enqueue(&keys).await;
        let started_at = timestamp();
        self.journal(&Event::Started {
            job: id,
            at: started_at.clone(),
        });
        job.state = State::Running;
        job.started_at = Some(started_at);
        self.update(&job);
        let mut req_devices: Vec<String> = req
            .targets
            .iter()
            .flat_map(|n| n.power_feeds())
            .map(|f| f.device)
            .collect();
        req_devices.sort();
        let jobs = Arc::clone(self);
        let command = req.command;
        let world = Arc::clone(&req.world);
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
                    jobs.pause(req.pause);
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
        let mut devices: Vec<String> = req_devices;
        devices.dedup();
        let (ok, result) = match outcome {
            Ok(o) => {
                self.metrics
                    .job_done(&devices, began.elapsed(), queued.elapsed(), &o);
                let ok = o.all_ok();
                let json = report::json_value(&o);
                job.outcome = Some(Arc::new(o));
                (ok, json)
            }
            Err(e) => (
                false,
                serde_json::json!({ "error": format!("the job failed: {e}") }),
            ),
        };
        drop(guards);
        self.dequeued(&keys);
        let ended_at = timestamp();
        self.journal(&Event::Ended {
            job: id,
            at: ended_at.clone(),
            ok,
            result: result.clone(),
        });
        job.state = if ok { State::Done } else { State::Failed };
        job.ended_at = Some(ended_at);
        job.result = Some(result);
        self.update(&job);
        job
    }

    /// A reboot's pause between off and on, cut short when the service stops (the node
    /// goes back on rather than staying off because of a stop).
    fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause;
        while !self.closing() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }

    /// Count a job into its queues, unless one of them is full.
    fn enqueue_count(&self, keys: &[String]) -> Result<(), String> {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(full) = keys
            .iter()
            .find(|k| w.get(*k).copied().unwrap_or(0) >= MAX_WAITING)
        {
            return Err(format!(
                "{MAX_WAITING} jobs already wait for {full}; try again later"
            ));
        }
        for k in keys {
            *w.entry(k.clone()).or_default() += 1;
        }
        Ok(())
    }

    /// Wait in every device's queue, in key order.
    async fn enqueue(&self, keys: &[String]) -> Vec<OwnedMutexGuard<()>> {
        let queues: Vec<Arc<Queue<()>>> = {
            let mut q = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            keys.iter()
                .map(|k| Arc::clone(q.entry(k.clone()).or_default()))
                .collect()
        };
        let mut guards = Vec::with_capacity(queues.len());
        for q in queues {
            guards.push(q.lock_owned().await);
        }
        guards
    }

    fn dequeued(&self, keys: &[String]) {
        let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            if let Some(n) = w.get_mut(k) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    w.remove(k);
                }
            }
        }
    }
}

/// The jobs of a journal, as the table shows them.
pub fn from_events(jobs: &BTreeMap<u64, Vec<Event>>) -> Vec<Job> {
    let mut out = Vec::new();
    for (id, events) in jobs {
        let mut job = Job::new(*id, String::new(), String::new(), vec![], vec![]);
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
                Event::Halfway { .. } | Event::Rotated { .. } => {}
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
