//! Power commands over many nodes at once, with fencing's rules: a node is off only when
//! every feed is confirmed off, on when any is on; a reboot switches every feed off and
//! confirms it before any feed goes back on. Devices work in parallel (at most `fanout`
//! at a time); the plugs of one device go through one session, read in one listing where
//! the device can list them. Outlets that no selected node maps are never touched.
//!
//! Locks: the command takes every device lock it needs before the first contact, in one
//! global order (the lock key), and holds them to the end, across both halves of a
//! reboot. Two commands over overlapping devices therefore wait for each other instead of
//! deadlocking, and a single agent call, which takes one lock, waits its turn.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contract::action::{Action, DeviceAction};
use crate::contract::agents::Registry;
use crate::contract::error::FenceError;
use crate::contract::input;
use crate::contract::settings::{self, Settings};
use crate::device::{self, Backend, Device, Meter, PowerState, PowerSupply, Session, Supply};
use crate::engine::lock::{self as device_lock, Held};
use crate::fleet::inventory::{self, Feed, Inventory};
use crate::runtime::call::CallId;
use crate::runtime::clock::{Clock, RealClock, SharedClock};
use crate::runtime::env::Env;
use crate::runtime::lock::{self, LockMode};
use crate::runtime::log::{self, Log};

/// What a power command asks of each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Status,
    On,
    Off,
    Reboot,
}

impl Command {
    pub fn parse(word: &str) -> Option<Command> {
        Some(match word {
            "status" => Command::Status,
            "on" => Command::On,
            "off" => Command::Off,
            "reboot" | "cycle" | "restart" => Command::Reboot,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::On => "on",
            Command::Off => "off",
            Command::Reboot => "reboot",
        }
    }
}

/// How a command runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Devices worked on at once.
    pub fanout: usize,
    /// The devices' logs, after each device's work, at this detail (0: none).
    pub verbose: u32,
    /// A progress line on standard error (when it is a terminal).
    pub progress: bool,
    /// How long to wait for device locks held by others, in all.
    pub lock_wait: Option<Duration>,
}

pub const DEFAULT_FANOUT: usize = 256;

impl Default for Options {
    fn default() -> Self {
        Options {
            fanout: DEFAULT_FANOUT,
            verbose: 0,
            progress: std::io::stderr().is_terminal(),
            lock_wait: Some(Duration::from_secs(120)),
        }
    }
}

/// What became of one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedResult {
    pub feed: Feed,
    /// The last state the device confirmed.
    pub state: Option<PowerState>,
    /// Whether this command switched it (off, on; both for a reboot).
    pub switched: bool,
    pub error: Option<String>,
    /// The device says it has no such plug (the inventory names one it lacks).
    pub unknown_plug: bool,
}

/// What became of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResult {
    pub node: String,
    /// Off when every feed is confirmed off, on when any is on, None when neither is known.
    pub state: Option<PowerState>,
    /// Whether the node reached what was asked (status: was read through every feed).
    pub ok: bool,
    /// Why not, in one line.
    pub reason: Option<String>,
    /// off or reboot: every feed was confirmed off (the node is fenced, whatever came after).
    pub fenced: bool,
    pub feeds: Vec<FeedResult>,
}

/// A power command's results, in the inventory's node order.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub command: Command,
    pub nodes: Vec<NodeResult>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn all_ok(&self) -> bool {
        self.nodes.iter().all(|n| n.ok)
    }
}

/// One device of the command: its backend, its settings, its log, and the plugs of the
/// selected nodes on it.
struct Work {
    name: String,
    plugs: Vec<String>,
    prepared: Result<Prepared, String>,
    log: Arc<Log>,
    /// What the device said of power beyond its plugs (`Op::Inspect` only).
    health: Option<Result<Health, String>>,
    /// What the device meters (`Op::Meter` only).
    meter: Option<Result<Option<Meter>, String>>,
}

struct Prepared {
    backend: Backend,
    settings: Settings,
    lock_key: String,
    lock_mode: LockMode,
    identity: lock::DeviceIdentity,
    /// The device takes several sessions at once (SNMP, IPMI, upsd); a console that
    /// takes one is worked by one session at a time, whichever inventory entry asks.
    concurrent: bool,
}

/// Run `command` on `nodes` (names of `inv`, already selected).
pub fn run(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    nodes: &[String],
    command: Command,
    opts: &Options,
) -> Outcome {
    let selected: Vec<&inventory::Node> = nodes.iter().filter_map(|n| inv.node(n)).collect();
    run_targets(inv, registry, env, &selected, command, opts, &|_| {})
}

/// What a reboot has done when its first half ends: the targets whose every feed was
/// confirmed off (they are fenced) and will now be switched on. A service journals it, so
/// a reboot cut short here is reported as "off, never switched on".
pub type HalfwayHook<'a> = &'a (dyn Fn(&[String]) + Sync);

/// Run `command` on `targets`: the inventory's nodes, or stand-ins a caller makes (an
/// outlet asked for by device and plug is a target with that one feed). Devices come from
/// `inv`; the rules are those of nodes.
pub fn run_targets(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    targets: &[&inventory::Node],
    command: Command,
    opts: &Options,
    halfway: HalfwayHook,
) -> Outcome {
    let started = Instant::now();
    let selected = targets;
    let feeds = selected.iter().flat_map(|n| n.power_feeds());
    let mut works = works_for(inv, registry, env, feeds, command, opts.verbose);
    let mut results: BTreeMap<Feed, FeedResult> = BTreeMap::new();
    let locks = lock_all(&mut works, command.name(), opts, env);
    let mut fenced = BTreeSet::new();
    match command {
        Command::Status => phase(&mut works, Op::Read, opts, &mut results),
        Command::On => phase(&mut works, Op::Switch(PowerState::On), opts, &mut results),
        Command::Off => phase(&mut works, Op::Switch(PowerState::Off), opts, &mut results),
        Command::Reboot => {
            fenced = reboot(selected, &mut works, opts, &mut results, halfway);
        }
    }
    drop(locks);
    if opts.progress {
        eprint!("\r\x1b[K");
    }
    Outcome {
        command,
        nodes: selected
            .iter()
            .map(|n| node_result(n, command, &results, fenced.contains(&n.name)))
            .collect(),
        elapsed: started.elapsed(),
    }
}

/// The devices of `feeds`, each once, with the plugs asked of it, ready to contact.
fn works_for(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    feeds: impl Iterator<Item = Feed>,
    command: Command,
    verbose: u32,
) -> Vec<Work> {
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for feed in feeds {
        let plugs = by_device.entry(feed.device).or_default();
        if !plugs.contains(&feed.plug) {
            plugs.push(feed.plug);
        }
    }
    by_device
        .into_iter()
        .map(|(name, plugs)| {
            let action = match command {
                Command::Status => DeviceAction::Status,
                Command::On => DeviceAction::On,
                Command::Off => DeviceAction::Off,
                Command::Reboot => DeviceAction::Reboot,
            };
            prepare(inv, registry, env, &name, plugs, action, verbose)
        })
        .collect()
}

/// Every lock the works need, each once, in key order; a device whose lock could not be
/// had fails with why. Held until the returned locks are dropped.
fn lock_all(works: &mut [Work], command: &str, opts: &Options, env: &Env) -> Vec<Held> {
    let (locks, lock_errors) = take_locks(works, command, opts, env);
    for w in works.iter_mut() {
        if let Ok(p) = &w.prepared {
            if let Some(e) = lock_errors.get(&p.lock_key) {
                w.prepared = Err(e.clone());
            }
        }
    }
    locks
}

/// What a device says of power beyond its plugs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// A UPS's own supply (on battery, low battery).
    pub supply: Option<Supply>,
    /// A BMC's power-supply sensors.
    pub psus: Option<Vec<PowerSupply>>,
}

/// What a read of feeds found: each feed, and each device's word on its own supply.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    pub feeds: BTreeMap<Feed, FeedResult>,
    /// By device: what it says of its own supply (a UPS) and of the machine's power
    /// does not, or why it could not be asked.
    pub health: BTreeMap<String, Result<Health, String>>,
}

/// Read `feeds` (under shared locks where the devices allow), and ask each of their
/// devices about its own supply.
pub fn inspect(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    feeds: &[Feed],
    opts: &Options,
) -> Readings {
    let mut works = works_for(
        inv,
        registry,
        env,
        feeds.iter().cloned(),
        Command::Status,
        opts.verbose,
    );
    let locks = lock_all(&mut works, Command::Status.name(), opts, env);
    let mut readings = Readings::default();
    phase(&mut works, Op::Inspect, opts, &mut readings.feeds);
    drop(locks);
    if opts.progress {
        eprint!("\r\x1b[K");
    }
    for w in works {
        if let Some(h) = w.health {
            readings.health.insert(w.name, h);
        }
    }
    readings
}

/// What each of `devices` (inventory names) meters, or why it could not be read; read
/// under shared locks where the devices allow.
pub fn meter(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    devices: &[String],
    opts: &Options,
) -> BTreeMap<String, Result<Option<Meter>, String>> {
    let mut works: Vec<Work> = devices
        .iter()
        .filter(|d| inv.devices.contains_key(*d))
        .map(|d| {
            let action = DeviceAction::List { with_state: true };
            prepare(inv, registry, env, d, Vec::new(), action, opts.verbose)
        })
        .collect();
    let locks = lock_all(&mut works, "stats", opts, env);
    phase(&mut works, Op::Meter, opts, &mut BTreeMap::new());
    drop(locks);
    if opts.progress {
        eprint!("\r\x1b[K");
    }
    works
        .into_iter()
        .map(|w| {
            let m = w
                .meter
                .unwrap_or_else(|| Err("not read (internal error)".to_string()));
            (w.name, m)
        })
        .collect()
}

/// Check a device's options as its agent would and set up its backend (no contact).
fn prepare(
    inv: &Inventory,
    registry: &Registry,
    env: &Env,
    name: &str,
    plugs: Vec<String>,
    action: DeviceAction,
    verbose: u32,
) -> Work {
    let device = &inv.devices[name];
    let log = Log::in_memory(name);
    // Checked as the action the command will do (a switch may need what a read does not:
    // fence_nut's password_only_to_switch), with one of its plugs where the agent needs one.
    // The devices keep their own timeouts even when Pacemaker runs fence_chain (which
    // turns an agent's own timeouts off): a feed that never confirms must end the
    // command, not hold every lock until Pacemaker kills it.
    let env = &Env {
        under_pacemaker: false,
        ..env.clone()
    };
    let prepared = log::scope(&log, || {
        // A plug becomes a line of the agent's options: one that holds a line break (from a
        // service's client, say) would add options of its own choosing.
        if let Some(bad) = plugs.iter().find(|p| p.chars().any(char::is_control)) {
            return Err(format!(
                "plug {:?} of device {name} holds a control character",
                bad
            ));
        }
        let mut stdin = inventory::stdin_for(device, action.name())?;
        if let (true, Some(plug)) = (device.has_plugs(), plugs.first()) {
            stdin.push_str(&format!("port={plug}\n"));
        }
        let raw = input::parse_stdin(&stdin, &device.agent.options).map_err(|e| e.to_string())?;
        // Level 1 at least: the lines are kept in memory and shown only with -v.
        log.configure(
            false,
            settings::verbose_level(&raw).max(verbose).max(1),
            None,
        );
        let reads = matches!(action, DeviceAction::Status | DeviceAction::List { .. });
        let action = Action::Device(action);
        let clock = RealClock::started_at(Instant::now());
        let (settings, mut errors) =
            settings::validate_partial(&device.agent, action, &raw, env, &clock);
        let config = match device::configure(registry, &device.agent, &settings, env) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        match (config, errors.is_empty()) {
            (Some(config), true) => {
                let backend = device::open(config);
                let (identity, concurrent) = identity_of(&backend);
                let lock_mode = if reads && concurrent {
                    LockMode::Shared
                } else {
                    LockMode::Exclusive
                };
                Ok(Prepared {
                    backend,
                    settings,
                    lock_key: identity.key(),
                    lock_mode,
                    identity,
                    concurrent,
                })
            }
            _ => Err(format!(
                "device {name} (inventory line {}): {}",
                device.line,
                one_line(&errors)
            )),
        }
    });
    Work {
        name: name.to_string(),
        plugs,
        prepared,
        log,
        health: None,
        meter: None,
    }
}

fn one_line(errors: &[FenceError]) -> String {
    let texts: Vec<String> = errors
        .iter()
        .map(|e| e.to_string().trim_start_matches("Failed: ").to_string())
        .collect();
    if texts.is_empty() {
        "the options are not valid".into()
    } else {
        texts.join("; ")
    }
}

fn identity_of(b: &Backend) -> (lock::DeviceIdentity, bool) {
    match b {
        Backend::Dummy(d) => (d.identity(), d.concurrent_reads()),
        Backend::Snmp(d) => (d.identity(), d.concurrent_reads()),
        Backend::Ipmi(d) => (d.identity(), d.concurrent_reads()),
        Backend::Nut(d) => (d.identity(), d.concurrent_reads()),
        Backend::Shell(d) => (d.identity(), d.concurrent_reads()),
    }
}

/// Take the locks of every prepared device, each key once (shared only if every device
/// behind it may share), in key order. A lock that cannot be had fails its devices only.
fn take_locks(
    works: &[Work],
    command: &str,
    opts: &Options,
    env: &Env,
) -> (Vec<Held>, BTreeMap<String, String>) {
    let mut wanted: BTreeMap<&str, (&lock::DeviceIdentity, LockMode)> = BTreeMap::new();
    for p in works.iter().filter_map(|w| w.prepared.as_ref().ok()) {
        let entry = wanted
            .entry(p.lock_key.as_str())
            .or_insert((&p.identity, p.lock_mode));
        if p.lock_mode == LockMode::Exclusive {
            entry.1 = LockMode::Exclusive;
        }
    }
    let clock = RealClock::started_at(Instant::now());
    let owner = format!(
        "{} (fencebox {}) since {}",
        CallId::next(),
        if command == "stats" {
            command.to_string()
        } else {
            format!("power {command}")
        },
        log::timestamp()
    );
    let (mut held, mut failed) = (Vec::new(), BTreeMap::new());
    for (key, (identity, mode)) in wanted {
        let left = opts.lock_wait.map(|w| w.saturating_sub(clock.elapsed()));
        match device_lock::acquire(env, identity, mode, left, &owner, &clock) {
            Ok(l) => held.push(l),
            Err(e) => {
                failed.insert(key.to_string(), FenceError::from(e).to_string());
            }
        }
    }
    (held, failed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    /// Read, and ask the device about its own supply.
    Inspect,
    Switch(PowerState),
    /// Read what the device meters (no plugs).
    Meter,
    /// The second half of a reboot: switch on plugs this command confirmed off moments
    /// ago under the locks it still holds, without reading them again.
    OnAfterOff,
}

/// One pass over the devices, in parallel: each does `op` on its plugs, and the results
/// land in `results` by feed.
fn phase(works: &mut [Work], op: Op, opts: &Options, results: &mut BTreeMap<Feed, FeedResult>) {
    let total = works.len();
    let lanes = lanes(works);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    let queue: Vec<Mutex<&mut Work>> = works.iter_mut().map(Mutex::new).collect();
    let workers = opts.fanout.clamp(1, lanes.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let l = next.fetch_add(1, Ordering::Relaxed);
                let Some(lane) = lanes.get(l) else { break };
                for slot in lane.iter().filter_map(|i| queue.get(*i)) {
                    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
                    let work: &mut Work = &mut guard;
                    let shown = work.log.lines().len();
                    let found = on_device(work, op);
                    if opts.verbose > 0 {
                        // Only this pass's lines: a reboot's second pass keeps the log.
                        for line in work.log.lines().iter().skip(shown) {
                            eprintln!("{}: {}", work.name, line.trim_end());
                        }
                    }
                    out.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if opts.progress {
                        eprint!("\r\x1b[Kfencebox power: {n}/{total} devices");
                    }
                }
            });
        }
    });
    for r in out.into_inner().unwrap_or_else(|p| p.into_inner()) {
        merge(results, r);
    }
}

/// The order works are done in: each its own lane, except that inventory entries sharing
/// the lock of a device that takes one session at a time share a lane, one after another.
fn lanes(works: &[Work]) -> Vec<Vec<usize>> {
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    let mut by_lock: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, w) in works.iter().enumerate() {
        match &w.prepared {
            Ok(p) if !p.concurrent => match by_lock.get(p.lock_key.as_str()) {
                Some(&l) => lanes[l].push(i),
                None => {
                    by_lock.insert(p.lock_key.as_str(), lanes.len());
                    lanes.push(vec![i]);
                }
            },
            _ => lanes.push(vec![i]),
        }
    }
    lanes
}

/// A later result of a feed replaces an earlier one, but a switch once done stays said.
fn merge(results: &mut BTreeMap<Feed, FeedResult>, r: FeedResult) {
    let switched = results.get(&r.feed).is_some_and(|old| old.switched);
    let feed = r.feed.clone();
    results.insert(
        feed,
        FeedResult {
            switched: r.switched || switched,
            ..r
        },
    );
}

fn on_device(work: &mut Work, op: Op) -> Vec<FeedResult> {
    if op == Op::Meter {
        let clock: SharedClock = RealClock::shared_now();
        work.meter = Some(match &mut work.prepared {
            Err(e) => Err(e.clone()),
            Ok(p) => log::scope(&work.log, || match &mut p.backend {
                Backend::Dummy(d) => read_meter(d, &clock),
                Backend::Snmp(d) => read_meter(d, &clock),
                Backend::Ipmi(d) => read_meter(d, &clock),
                Backend::Nut(d) => read_meter(d, &clock),
                Backend::Shell(d) => read_meter(d, &clock),
            }),
        });
        return Vec::new();
    }
    let feed = |plug: &str| Feed {
        device: work.name.clone(),
        plug: plug.to_string(),
    };
    let prepared = match &mut work.prepared {
        Ok(p) => p,
        Err(e) => {
            work.health = Some(Err(e.clone()));
            return work
                .plugs
                .iter()
                .map(|p| FeedResult {
                    feed: feed(p),
                    state: None,
                    switched: false,
                    error: Some(e.clone()),
                    unknown_plug: false,
                })
                .collect();
        }
    };
    let clock: SharedClock = RealClock::shared_now();
    let plugs = work.plugs.clone();
    let settings = &prepared.settings;
    let (per_plug, health) = log::scope(&work.log, || match &mut prepared.backend {
        Backend::Dummy(d) => device_op(d, &plugs, op, settings, &clock),
        Backend::Snmp(d) => device_op(d, &plugs, op, settings, &clock),
        Backend::Ipmi(d) => device_op(d, &plugs, op, settings, &clock),
        Backend::Nut(d) => device_op(d, &plugs, op, settings, &clock),
        Backend::Shell(d) => device_op(d, &plugs, op, settings, &clock),
    });
    work.health = health;
    plugs
        .iter()
        .zip(per_plug)
        .map(|(p, r)| FeedResult {
            feed: feed(p),
            state: r.state,
            switched: r.switched,
            error: r.error,
            unknown_plug: r.unknown_plug,
        })
        .collect()
}

fn read_meter<D: Device>(dev: &mut D, clock: &SharedClock) -> Result<Option<Meter>, String> {
    let mut session = dev.connect(clock).map_err(|e| err_text(&e))?;
    let m = session.meter().map_err(|e| err_text(&e));
    session.close();
    m
}

/// One plug's end: the last state the device confirmed, whether this command switched
/// it (confirmed), and what went wrong.
#[derive(Debug, Clone)]
struct PlugOutcome {
    state: Option<PowerState>,
    switched: bool,
    error: Option<String>,
    unknown_plug: bool,
}

impl PlugOutcome {
    fn confirmed(state: PowerState, switched: bool) -> Self {
        PlugOutcome {
            state: Some(state),
            switched,
            error: None,
            unknown_plug: false,
        }
    }
    fn failed(error: String, last: Option<PowerState>) -> Self {
        PlugOutcome {
            state: last,
            switched: false,
            error: Some(error),
            unknown_plug: false,
        }
    }

    fn from_error(e: &FenceError) -> Self {
        PlugOutcome {
            unknown_plug: matches!(e, FenceError::PlugNotFound(_)),
            ..PlugOutcome::failed(err_text(e), None)
        }
    }
}

fn err_text(e: &FenceError) -> String {
    e.to_string().trim_start_matches("Failed: ").to_string()
}

/// `op` on every plug of one device through one session: per plug, the confirmed state
/// and whether it was switched, or why not.
/// Per plug, and what the device said of its supply when asked (`Op::Inspect`).
type DeviceOutcome = (Vec<PlugOutcome>, Option<Result<Health, String>>);

fn device_op<D: Device>(
    dev: &mut D,
    plugs: &[String],
    op: Op,
    settings: &Settings,
    clock: &SharedClock,
) -> DeviceOutcome {
    let mut session = match dev.connect(clock) {
        Ok(s) => s,
        Err(e) => {
            let e = err_text(&e);
            let supply = (op == Op::Inspect).then(|| Err(e.clone()));
            return (vec![PlugOutcome::failed(e, None); plugs.len()], supply);
        }
    };
    let r = session_op(&mut session, plugs, op, settings, clock);
    let supply = (op == Op::Inspect).then(|| {
        Ok(Health {
            supply: session.supply().map_err(|e| err_text(&e))?,
            psus: session.power_supplies().map_err(|e| err_text(&e))?,
        })
    });
    session.close();
    (r, supply)
}

fn session_op<S: Session>(
    s: &mut S,
    plugs: &[String],
    op: Op,
    settings: &Settings,
    clock: &SharedClock,
) -> Vec<PlugOutcome> {
    let mut out = vec![PlugOutcome::failed(String::new(), None); plugs.len()];
    let mut resolved = Vec::new();
    for (i, given) in plugs.iter().enumerate() {
        match s.plug(given) {
            Ok(p) => resolved.push((i, p)),
            Err(e) => out[i] = PlugOutcome::from_error(&e),
        }
    }
    let states = match op {
        Op::OnAfterOff => resolved
            .iter()
            .map(|(i, _)| (*i, Ok(PowerState::Off)))
            .collect(),
        _ => read_states(s, &resolved),
    };
    let target = match op {
        Op::Read | Op::Inspect | Op::Meter => {
            for (i, st) in states {
                out[i] = match st {
                    Ok(s) => PlugOutcome::confirmed(s, false),
                    Err(e) => PlugOutcome::from_error(&e),
                };
            }
            return out;
        }
        Op::Switch(t) => t,
        Op::OnAfterOff => PowerState::On,
    };
    // Ask every plug that is not there yet (in one request where the device can), then
    // confirm them together.
    let mut asked = Vec::new();
    for ((i, plug), (_, st)) in resolved.iter().zip(states) {
        match st {
            Ok(s) if s == target => out[*i] = PlugOutcome::confirmed(s, false),
            Ok(now) => asked.push((*i, plug, now)),
            Err(e) => out[*i] = PlugOutcome::from_error(&e),
        }
    }
    let plugs_asked: Vec<&S::Plug> = asked.iter().map(|(_, p, _)| *p).collect();
    let answers = s.set_power_many(&plugs_asked, target);
    let mut pending = Vec::new();
    for ((i, plug, now), answer) in asked.into_iter().zip(answers) {
        match answer {
            Ok(()) => pending.push((i, plug.clone())),
            Err(e) => out[i] = PlugOutcome::failed(err_text(&e), Some(now)),
        }
    }
    if pending.is_empty() {
        return out;
    }
    clock.sleep(settings.power_wait);
    let started = clock.elapsed();
    let max_polls = settings.power_timeout.map(|d| d.as_secs().max(1));
    let mut polls = 0u64;
    let mut last: BTreeMap<usize, Result<PowerState, FenceError>> = BTreeMap::new();
    while !pending.is_empty() {
        polls += 1;
        for (i, st) in read_states(s, &pending) {
            match st {
                Ok(s) if s == target => {
                    out[i] = PlugOutcome::confirmed(s, true);
                    last.remove(&i);
                }
                other => {
                    last.insert(i, other);
                }
            }
        }
        pending.retain(|(i, _)| last.contains_key(i));
        if pending.is_empty() {
            break;
        }
        clock.sleep(settings.status_sleep);
        let out_of_polls = max_polls.is_some_and(|m| polls >= m);
        let out_of_time = settings
            .power_timeout
            .is_some_and(|t| clock.elapsed().saturating_sub(started) >= t);
        if out_of_polls || out_of_time {
            break;
        }
    }
    for (i, _) in pending {
        out[i] = match last.remove(&i) {
            Some(Ok(s)) => PlugOutcome::failed(
                format!(
                    "asked {}, still {} after {polls} read(s) (power_timeout)",
                    target.lower(),
                    s.lower()
                ),
                Some(s),
            ),
            Some(Err(e)) => PlugOutcome::failed(
                format!("asked {}, then: {}", target.lower(), err_text(&e)),
                None,
            ),
            None => PlugOutcome::failed(format!("asked {}, not confirmed", target.lower()), None),
        };
    }
    out
}

/// The confirmed state of each resolved plug (index into `plugs`), read together where
/// the device can (one SNMP GET for all of a PDU's outlets).
fn read_states<S: Session>(
    s: &mut S,
    resolved: &[(usize, S::Plug)],
) -> Vec<(usize, Result<PowerState, FenceError>)> {
    let plugs: Vec<&S::Plug> = resolved.iter().map(|(_, p)| p).collect();
    let states = s.status_many(&plugs);
    resolved.iter().map(|(i, _)| *i).zip(states).collect()
}

/// Both halves of a reboot: every feed off; then, for each node whose every feed is
/// confirmed off (it is fenced: returned), every feed on. A node not confirmed off keeps
/// its feeds as they are.
fn reboot(
    selected: &[&inventory::Node],
    works: &mut [Work],
    opts: &Options,
    results: &mut BTreeMap<Feed, FeedResult>,
    halfway: HalfwayHook,
) -> BTreeSet<String> {
    phase(works, Op::Switch(PowerState::Off), opts, results);
    let mut fenced = BTreeSet::new();
    let mut back_on: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in selected {
        let feeds = node.power_feeds();
        let all_off = feeds.iter().all(|f| {
            results
                .get(f)
                .is_some_and(|r| r.error.is_none() && r.state == Some(PowerState::Off))
        });
        if all_off {
            fenced.insert(node.name.clone());
            for f in feeds {
                back_on.entry(f.device).or_default().push(f.plug);
            }
        }
    }
    halfway(&fenced.iter().cloned().collect::<Vec<_>>());
    let mut second: Vec<Work> = Vec::new();
    for w in works.iter_mut() {
        let Some(plugs) = back_on.remove(&w.name) else {
            continue;
        };
        // The device moves to the second pass with only the plugs of fenced nodes.
        let prepared = std::mem::replace(&mut w.prepared, Err("moved".into()));
        second.push(Work {
            name: w.name.clone(),
            plugs,
            prepared,
            log: Arc::clone(&w.log),
            health: None,
            meter: None,
        });
    }
    phase(&mut second, Op::OnAfterOff, opts, results);
    fenced
}

/// A node's result from its feeds' results.
fn node_result(
    node: &inventory::Node,
    command: Command,
    results: &BTreeMap<Feed, FeedResult>,
    fenced: bool,
) -> NodeResult {
    let feeds: Vec<FeedResult> = node
        .power_feeds()
        .into_iter()
        .map(|f| {
            results.get(&f).cloned().unwrap_or(FeedResult {
                feed: f,
                state: None,
                switched: false,
                error: Some("not reached".into()),
                unknown_plug: false,
            })
        })
        .collect();
    let any_on = feeds.iter().any(|f| f.state == Some(PowerState::On));
    let all_off = feeds
        .iter()
        .all(|f| f.state == Some(PowerState::Off) && f.error.is_none());
    let state = if any_on {
        Some(PowerState::On)
    } else if all_off {
        Some(PowerState::Off)
    } else {
        None
    };
    let errors: Vec<String> = feeds
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.feed)))
        .collect();
    let all_on = feeds
        .iter()
        .all(|f| f.state == Some(PowerState::On) && f.error.is_none());
    let ok = errors.is_empty()
        && match command {
            Command::Status => state.is_some(),
            Command::Off => all_off,
            Command::On | Command::Reboot => all_on,
        };
    let reason = if ok {
        None
    } else if !errors.is_empty() {
        let mut r = errors.join("; ");
        if command == Command::Reboot {
            r.push_str(if fenced {
                " (every feed was confirmed off: the node was fenced)"
            } else {
                " (not every feed was confirmed off: nothing was switched back on)"
            });
        }
        Some(r)
    } else {
        Some(format!(
            "not {}",
            match command {
                Command::Off => "off",
                _ => "on",
            }
        ))
    };
    NodeResult {
        node: node.name.clone(),
        state,
        ok,
        reason,
        fenced: match command {
            Command::Off => all_off,
            Command::Reboot => fenced,
            Command::Status | Command::On => false,
        },
        feeds,
    }
}
