//! The device lock a call holds while it talks to a device: this host's flock always
//! (so that one host never needs the network to serialise itself), and with `[locks]
//! backend = "etcd"` an etcd lock on the same device for exclusive use, so that every host
//! takes its turn. Shared (read-only) locks stay local: readers of a device that tolerates
//! concurrent readers change nothing, and a device that does not (a menu PDU) is always
//! locked exclusively.
//!
//! The etcd lock is an entry in the device's queue bound to a lease of the configured TTL,
//! which a thread renews while the call runs, however long the action takes. At the end
//! the entry is removed and the lease, still alive, handed on to this host's next call
//! (see spare_lease). A holder that dies stops renewing, and its lock goes when the lease
//! expires. Waiters are served in the order they came (etcd's lock is first come, first
//! served by revision). Who holds and who waits is written on the entry, for `fencebox
//! locks` and for the log line of a waiter.
//!
//! With several endpoints, the writes go to the leader first (see leader_note).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::leader_note::{self, Check, Note};
use crate::engine::spare_lease::{self, Spare};
use crate::etcd::{self, Client, LeaseId, Term};
use crate::runtime::clock::Clock;
use crate::runtime::env::Env;
use crate::runtime::lock::{self, DeviceIdentity, DeviceLock, LockError, LockMode};
use crate::runtime::log;
use crate::runtime::site::{EtcdLocks, LockBackend, OnUnreachable};

/// A held device lock; `release` (or drop) gives every part of it back.
pub struct Held {
    local: DeviceLock,
    cluster: Option<ClusterLock>,
    /// How long the call waited for the whole lock.
    pub waited: Duration,
}

impl Held {
    /// What was taken, for the debug log: the lock file, and the etcd key if any.
    pub fn describe(&self) -> String {
        match &self.cluster {
            Some(c) => format!(
                "{} and etcd {}",
                self.local.path.display(),
                String::from_utf8_lossy(&c.key)
            ),
            None => self.local.path.display().to_string(),
        }
    }

    /// Give the lock back now: the etcd part first (so that the next host may start while
    /// this one tidies up), then this host's flock.
    pub fn release(mut self) {
        drop(self.cluster.take());
        self.local.release();
    }
}

/// Take the lock of device `id` in `mode`, waiting at most `wait_limit` in all (None: as
/// long as it takes). `owner` describes the call to whoever has to wait for it.
pub fn acquire(
    env: &Env,
    id: &DeviceIdentity,
    mode: LockMode,
    wait_limit: Option<Duration>,
    owner: &str,
    clock: &dyn Clock,
) -> Result<Held, LockError> {
    let backend = env.locks.as_ref().map_err(|e| {
        LockError::Local(format!(
            "Failed: {e} (the site settings; fix the file or set FENCEBOX_CONFIG to another one)"
        ))
    })?;
    let start = clock.elapsed();
    let local = lock::acquire(&env.lock_dir, id, mode, wait_limit, owner, clock)?;
    let cluster = match backend {
        LockBackend::Etcd(settings) if mode == LockMode::Exclusive => {
            let left = wait_limit.map(|w| w.saturating_sub(clock.elapsed().saturating_sub(start)));
            match take_cluster_lock(settings, &env.lock_dir, id, owner, left) {
                Ok(c) => Some(c),
                Err(ClusterError::Unreachable(why)) => match settings.on_unreachable {
                    OnUnreachable::Local => {
                        log_warning!(
                            "etcd cannot be reached ({why}); device {} is locked on this host only (on_unreachable = \"local\")",
                            id.key()
                        );
                        None
                    }
                    OnUnreachable::Fail => {
                        local.release();
                        return Err(LockError::Local(format!(
                            "Failed: etcd cannot be reached ({why}), and device locks across hosts are required (on_unreachable = \"fail\" in the site settings); start etcd, or check [locks] endpoints (and ca, certificate and key for https)"
                        )));
                    }
                },
                Err(ClusterError::Lock(e)) => {
                    local.release();
                    return Err(e);
                }
            }
        }
        _ => None,
    };
    Ok(Held {
        local,
        cluster,
        waited: clock.elapsed().saturating_sub(start),
    })
}

enum ClusterError {
    /// No member answered within the connect timeout: `on_unreachable` decides.
    Unreachable(String),
    /// The lock was not had for another reason (the time ran out, a refusal).
    Lock(LockError),
}

/// The etcd part of a held lock.
struct ClusterLock {
    client: Client,
    lease: LeaseId,
    key: Vec<u8>,
    keeper: Option<Keeper>,
    settings: EtcdLocks,
    lock_dir: PathBuf,
    device: String,
    /// The check of who leads, when this call found the note out of date.
    leader_check: Option<Check>,
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        let Some(keeper) = self.keeper.take() else {
            return;
        };
        let renewed_at = keeper.stop();
        let handed_on = renewed_at.is_some_and(|at| self.hand_on(at));
        if !handed_on {
            let deadline = Instant::now() + self.settings.connect_timeout;
            if let Err(e) = self.client.revoke(self.lease, deadline) {
                log_warning!(
                    "could not hand back the etcd lock of device {} ({e}); it is freed when its lease expires",
                    self.device
                );
            }
        }
        if let Some(check) = self.leader_check.take() {
            check.finish(CHECK_WAIT);
        }
    }
}

impl ClusterLock {
    /// Delete this call's entry and note its live lease (last renewed at `renewed_at`) for
    /// the host's next call; false when the lease is to be revoked instead. A lease too
    /// old to be taken counts as handed on: it expires by itself.
    fn hand_on(&self, renewed_at: Duration) -> bool {
        // A request of this call left unanswered may yet be applied, late, to this
        // lease's entry: such a lease is ended, not handed on.
        if self.client.had_unanswered() {
            return false;
        }
        let deadline = Instant::now() + self.settings.connect_timeout;
        match self.client.delete(&self.key, deadline) {
            Ok(true) => {
                !self.client.had_unanswered()
                    && spare_lease::hand_on(&self.lock_dir, &self.settings, self.lease, renewed_at)
                        .is_ok()
            }
            Ok(false) => false,
            Err(e) => {
                log_debug!(
                    1,
                    "could not delete the etcd lock entry of device {} ({e}); revoking its lease",
                    self.device
                );
                false
            }
        }
    }
}

/// How long a call, once its lock is given back, waits for its check of the leader (which
/// began once it joined the queue, and takes a millisecond or two when the members answer).
const CHECK_WAIT: Duration = Duration::from_millis(50);

/// The names of the devices' locks under the prefix. Each entry of a lock's queue
/// (`<lock>/<lease hex>`) carries the description of its call.
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    /// `<prefix>lock/<device>`: the device's identity with `/` and `%` escaped, so that
    /// no lock name is a `/`-prefix of another (etcd would nest them).
    pub fn lock(&self, device: &str) -> String {
        let escaped = device.replace('%', "%25").replace('/', "%2F");
        format!("{}lock/{escaped}", self.prefix)
    }

    pub fn locks(&self) -> String {
        format!("{}lock/", self.prefix)
    }

    /// The device of a lock entry's key (`<prefix>lock/<device>/<lease hex>`).
    pub fn device_of(&self, entry: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(entry);
        let rest = text.strip_prefix(&self.locks())?;
        let (device, _) = rest.rsplit_once('/')?;
        Some(device.replace("%2F", "/").replace("%25", "%"))
    }
}

/// One client per cluster setting and process: a service's calls share connections.
pub fn client_for(settings: &EtcdLocks) -> Result<Client, String> {
    static CLIENTS: OnceLock<Mutex<Vec<(EtcdLocks, Client)>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Default::default);
    let mut clients = clients.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = clients.iter().find(|(s, _)| s == settings) {
        return Ok(c.clone());
    }
    let tls = etcd::Tls {
        ca: settings.ca.as_deref(),
        certificate: settings.certificate.as_deref(),
        key: settings.key.as_deref(),
    };
    // A member without a leader (an election under way) holds a request for seconds
    // before it fails: each try gets a third of the connect timeout, so that the others
    // are asked in time.
    let connect = settings.connect_timeout;
    let per_try = connect.min((connect / 3).max(Duration::from_millis(300)));
    let client = Client::new(&settings.endpoints, &tls, per_try).map_err(|e| e.to_string())?;
    clients.push((settings.clone(), client.clone()));
    Ok(client)
}

fn take_cluster_lock(
    settings: &EtcdLocks,
    lock_dir: &Path,
    id: &DeviceIdentity,
    owner: &str,
    left: Option<Duration>,
) -> Result<ClusterLock, ClusterError> {
    let started = Instant::now();
    let device = id.key();
    let keys = Keys::new(&settings.prefix);
    let shared = client_for(settings).map_err(|e| {
        ClusterError::Lock(LockError::Local(format!(
            "Failed: {e}; check [locks] ca, certificate and key in the site settings"
        )))
    })?;
    // With one endpoint there is nothing to choose.
    let note_file = (shared.endpoints().len() > 1).then(|| lock_dir.join(leader_note::FILE));
    let noted = note_file.as_deref().and_then(Note::read);
    let client = shared.for_call(noted.as_ref().and_then(|n| n.endpoint.as_deref()));
    let first = client.current_endpoint().to_string();
    let soon = || Instant::now() + settings.connect_timeout;
    let name = keys.lock(&device);
    let who = format!("{} {owner}", host_name());
    let mut leased = match spare_lease::claim(lock_dir, settings) {
        Some(spare) => Leased::spare(spare),
        None => Leased::fresh(&client, settings, &device)?,
    };
    let queued = loop {
        match client.enqueue(name.as_bytes(), leased.lease, who.as_bytes(), soon()) {
            Ok(q) => break q,
            // A spare lease revoked meanwhile: a fresh one.
            Err(etcd::Error::Refused(m))
                if leased.spare.is_some() && m.contains("lease not found") =>
            {
                log_debug!(1, "the etcd lease handed on to this call is gone ({m})");
                leased = Leased::fresh(&client, settings, &device)?;
            }
            Err(e) => return Err(leased.give_back(&client, soon(), unreachable_or(e, &device))),
        }
    };
    leased.keep(&client, settings, &device);
    let by = leased.by.or(queued.by);
    let leader_check = note_file
        .filter(|_| !noted.as_ref().is_some_and(|n| n.holds_for(by)))
        .and_then(|file| {
            let left = (client.current_endpoint() != first).then_some(first);
            Check::start(&client, file, left)
        });
    let held = |leased: Leased, key: Vec<u8>| ClusterLock {
        client: client.clone(),
        lease: leased.lease,
        key,
        keeper: leased.keeper,
        settings: settings.clone(),
        lock_dir: lock_dir.to_path_buf(),
        device: device.clone(),
        leader_check,
    };
    if queued.held {
        return Ok(held(leased, queued.key));
    }
    log_info!(
        "waiting for device {device} across hosts (etcd), in use by {}",
        String::from_utf8_lossy(&queued.first.value)
    );
    let deadline = left.map(|l| started + l);
    let key = match client.lock(name.as_bytes(), leased.lease, deadline) {
        Ok(k) => k,
        Err(etcd::Error::TimedOut) => {
            let by =
                current_holder(&client, &name, soon()).unwrap_or_else(|| "another host".into());
            return Err(leased.give_back(
                &client,
                soon(),
                ClusterError::Lock(LockError::TimedOut(format!(
                    "gave up after {:.1} s waiting for device {device} across hosts (etcd), in use by {by}",
                    started.elapsed().as_secs_f64()
                ))),
            ));
        }
        Err(e) => return Err(leased.give_back(&client, soon(), unreachable_or(e, &device))),
    };
    // etcd answers a waiter whose lease expired meanwhile with a key that no longer
    // exists: after a wait long enough for that (half the lease's time left when it was
    // had; renewals keep it alive unless they fail), only a key that is still there, on
    // this lease, is the lock.
    if leased.had.elapsed() >= leased.left / 2 {
        match client.get(&key, soon()) {
            Ok(Some(kv)) if kv.lease == Some(leased.lease) => {}
            Ok(_) => {
                return Err(leased.give_back(
                    &client,
                    soon(),
                    ClusterError::Lock(LockError::Local(format!(
                        "Failed: the etcd lease of this call expired while it waited for device {device} (its renewals did not reach etcd); try again, and check the network to the etcd members"
                    ))),
                ))
            }
            Err(e) => return Err(leased.give_back(&client, soon(), unreachable_or(e, &device))),
        }
    }
    Ok(held(leased, key))
}

/// The lease a call's lock entry is bound to, with the thread that renews it.
struct Leased {
    lease: LeaseId,
    /// The thread renewing it: from the grant on for a fresh lease, from joining the
    /// queue on for a handed-on one (which etcd may no longer know before).
    keeper: Option<Keeper>,
    /// Handed on by an earlier call (spare_lease), not granted to this one.
    spare: Option<Spare>,
    /// When it was had, and how long it had left then at least.
    had: Instant,
    left: Duration,
    /// Who granted it (a fresh lease), for the leader note.
    by: Option<Term>,
}

impl Leased {
    fn fresh(client: &Client, settings: &EtcdLocks, device: &str) -> Result<Leased, ClusterError> {
        let had = Instant::now();
        // Read before asking: etcd counts the TTL from later.
        let renewed_at = spare_lease::since_boot();
        let ttl = spare_lease::asked_ttl(settings);
        let granted = client
            .grant(ttl, had + settings.connect_timeout)
            .map_err(|e| unreachable_or(e, device))?;
        // From here the lease is ours to end, whatever happens.
        let keeper = Keeper::start(
            client.clone(),
            granted.lease,
            ttl,
            device.to_string(),
            ttl / 3,
            renewed_at,
        );
        Ok(Leased {
            lease: granted.lease,
            keeper: Some(keeper),
            spare: None,
            had,
            left: ttl,
            by: granted.by,
        })
    }

    fn spare(spare: Spare) -> Leased {
        Leased {
            lease: spare.lease,
            keeper: None,
            spare: Some(spare),
            had: Instant::now(),
            left: spare.left,
            by: None,
        }
    }

    /// Renew a handed-on lease from now on, as a fresh one is: whenever two thirds of
    /// the TTL would be left.
    fn keep(&mut self, client: &Client, settings: &EtcdLocks, device: &str) {
        let Some(spare) = self.spare.filter(|_| self.keeper.is_none()) else {
            return;
        };
        let ttl = spare_lease::asked_ttl(settings);
        let left = self.left.saturating_sub(self.had.elapsed());
        self.keeper = Some(Keeper::start(
            client.clone(),
            spare.lease,
            ttl,
            device.to_string(),
            left.saturating_sub(ttl * 2 / 3),
            Some(spare.renewed_at),
        ));
    }

    fn stop(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.stop();
        }
    }

    /// End the lease (its entries go with it) on the way out with `e`.
    fn give_back(mut self, client: &Client, deadline: Instant, e: ClusterError) -> ClusterError {
        self.stop();
        let _ = client.revoke(self.lease, deadline);
        e
    }
}

fn unreachable_or(e: etcd::Error, device: &str) -> ClusterError {
    match e {
        etcd::Error::Unreachable(why) => ClusterError::Unreachable(why),
        etcd::Error::TimedOut => ClusterError::Unreachable("no answer in time".into()),
        etcd::Error::Refused(why) => ClusterError::Lock(LockError::Local(format!(
            "Failed: etcd refused the lock of device {device}: {why}"
        ))),
    }
}

/// Who holds the lock `name` now: the description its oldest entry carries.
fn current_holder(client: &Client, name: &str, deadline: Instant) -> Option<String> {
    let entries = client
        .range_prefix(format!("{name}/").as_bytes(), deadline)
        .ok()?;
    let first = entries.first()?;
    Some(String::from_utf8_lossy(&first.value).into_owned())
}

/// This host's name, for the description of its calls.
pub fn host_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown-host".into())
    })
}

/// The thread that renews a lease every third of its TTL until told to stop.
struct Keeper {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<Option<Duration>>>,
}

impl Keeper {
    /// Renew `lease` first after `first`, then every third of `ttl`; it was last renewed
    /// (or granted) at `renewed_at` on the boot clock.
    fn start(
        client: Client,
        lease: LeaseId,
        ttl: Duration,
        device: String,
        first: Duration,
        renewed_at: Option<Duration>,
    ) -> Keeper {
        let (stop, stopped) = mpsc::channel::<()>();
        let log = log::current();
        let shown = device.clone();
        let thread = std::thread::Builder::new()
            .name("etcd-lease".into())
            .spawn(move || {
                let renewals = Renewals {
                    client: &client,
                    lease,
                    ttl,
                    device: &device,
                };
                let renew = || renewals.until_stopped(&stopped, first, renewed_at);
                match log {
                    Some(log) => log::scope(&log, renew),
                    None => renew(),
                }
            })
            .ok();
        if thread.is_none() {
            log_warning!(
                "cannot start the thread that renews the etcd lease of device {shown}; the lock lasts what is left of its TTL"
            );
        }
        Keeper { stop, thread }
    }

    /// Stop renewing. When the lease was last renewed, on the boot clock; None when it
    /// expired, or when that is not known.
    fn stop(mut self) -> Option<Duration> {
        let _ = self.stop.send(());
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

struct Renewals<'a> {
    client: &'a Client,
    lease: LeaseId,
    ttl: Duration,
    device: &'a str,
}

impl Renewals<'_> {
    /// Renew until told to stop; when the lease was last renewed, None once it expired.
    fn until_stopped(
        &self,
        stopped: &mpsc::Receiver<()>,
        first: Duration,
        mut renewed_at: Option<Duration>,
    ) -> Option<Duration> {
        let period = self.ttl / 3;
        let mut wait = first;
        loop {
            match stopped.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return renewed_at,
            }
            let asked = spare_lease::since_boot();
            match self.client.keepalive(self.lease, Instant::now() + period) {
                Ok(Some(_)) => {
                    wait = period;
                    renewed_at = asked;
                }
                Ok(None) => {
                    log_error!(
                        "the etcd lease of the lock of device {} has expired: other hosts may use the device now; this call goes on with this host's lock",
                        self.device
                    );
                    return None;
                }
                Err(e) => {
                    log_warning!(
                        "cannot renew the etcd lease of the lock of device {} ({e}); trying again",
                        self.device
                    );
                    // Sooner than usual: the lease has two thirds of its TTL at most left.
                    wait = period / 4;
                }
            }
        }
    }
}

/// A call that holds or waits for a device's lock across hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEntry {
    pub device: String,
    /// The first in the device's queue holds the lock; the others wait in order.
    pub holds: bool,
    /// The call's own description: host, pid, agent, action, since when.
    pub described: String,
}

/// Every etcd lock entry under the prefix, holders first within each device's queue.
pub fn cluster_entries(settings: &EtcdLocks) -> Result<Vec<ClusterEntry>, String> {
    let client = client_for(settings)?;
    let keys = Keys::new(&settings.prefix);
    let entries = client
        .range_prefix(
            keys.locks().as_bytes(),
            Instant::now() + settings.connect_timeout,
        )
        .map_err(|e| e.to_string())?;
    let mut seen: Vec<String> = Vec::new();
    let mut listed: Vec<ClusterEntry> = entries
        .iter()
        .filter_map(|kv| {
            let device = keys.device_of(&kv.key)?;
            let holds = !seen.contains(&device);
            if holds {
                seen.push(device.clone());
            }
            Some(ClusterEntry {
                device,
                holds,
                described: log::escape_controls(&String::from_utf8_lossy(&kv.value)).into_owned(),
            })
        })
        .collect();
    // By device, each queue in its order (the sort is stable).
    listed.sort_by(|a, b| a.device.cmp(&b.device));
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::fake::{Fake, Reply};
    use crate::runtime::clock::RealClock;
    use crate::runtime::log::Log;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use serde_json::{json, Value};

    const DEVICE: &str = "snmp:192.0.2.9:161";
    const OTHER: &str = "nodeB pid 9 (fence_apc reboot plug 2) since 2026-12-07 06:00:00,000000";

    fn b64(s: &str) -> String {
        B64.encode(s)
    }

    /// This call's queue entry: lease 16 is 10 in hex.
    fn entry() -> String {
        format!("{}/10", Keys::new("fencebox/").lock(DEVICE))
    }

    /// An etcd whose lock queue of DEVICE has nodeB first (unless `first`), whose lock
    /// call answers after `wait`, whose keepalive knows the lease while `alive`, and whose
    /// read of this call's entry finds it while `entry_alive`. It grants lease 16 and
    /// knows no other.
    fn etcd(first: bool, wait: Duration, alive: bool, entry_alive: bool) -> Fake {
        Fake::start(answers(first, wait, alive, entry_alive))
    }

    /// What `etcd` answers.
    fn answers(
        first: bool,
        wait: Duration,
        alive: bool,
        entry_alive: bool,
    ) -> impl Fn(&str, &Value) -> Reply + Send + Sync + 'static {
        move |path, body: &Value| match path {
            "lease/grant" => Reply::ok(json!({"ID": "16", "TTL": "2"})),
            "lease/keepalive" if alive => Reply::ok(json!({"result": {"ID": "16", "TTL": "2"}})),
            "lease/keepalive" => Reply::ok(json!({"result": {"ID": "16"}})),
            "kv/txn" if body["success"][0]["request_put"]["lease"] != "16" => Reply {
                status: 404,
                body: json!({"error": "etcdserver: requested lease not found", "code": 5}),
                delay: Duration::ZERO,
            },
            "kv/txn" => {
                let holder = if first {
                    json!({"key": b64(&entry()), "create_revision": "7", "lease": "16", "value": b64("us")})
                } else {
                    json!({"key": b64("other"), "create_revision": "3", "lease": "5", "value": b64(OTHER)})
                };
                Reply::ok(json!({"header": {"revision": "7"}, "succeeded": true,
                    "responses": [{"response_put": {}}, {"response_range": {"kvs": [holder]}}]}))
            }
            "lock/lock" => Reply::ok(json!({"key": b64(&entry())})).after(wait),
            // The queue, oldest first: nodeB holds it.
            "kv/range" if body.get("range_end").is_some() => Reply::ok(json!({"kvs": [
                {"key": b64("other"), "create_revision": "3", "lease": "5", "value": b64(OTHER)}]})),
            "kv/range" if entry_alive => Reply::ok(json!({"kvs": [
                {"key": b64(&entry()), "create_revision": "7", "lease": "16"}]})),
            "kv/range" => Reply::ok(json!({})),
            "lease/revoke" => Reply::ok(json!({})),
            "kv/deleterange" => Reply::ok(json!({"deleted": "1"})),
            _ => Reply {
                status: 404,
                body: json!({"message": "not here"}),
                delay: Duration::ZERO,
            },
        }
    }

    /// A log that keeps every line, info included.
    fn memory_log() -> std::sync::Arc<Log> {
        let log = Log::in_memory("test");
        log.configure(false, 1, None);
        log
    }

    fn env(fake: &Fake, name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("fencebox-etcd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Env {
            lock_dir: dir,
            locks: Ok(LockBackend::Etcd(EtcdLocks {
                endpoints: vec![fake.endpoint.clone()],
                ca: None,
                certificate: None,
                key: None,
                prefix: "fencebox/".into(),
                ttl: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(2),
                on_unreachable: OnUnreachable::Local,
            })),
            ..Env::default()
        }
    }

    /// `env` with a TTL of `secs`: handed-on leases stay usable for a third of it.
    fn ttl(mut env: Env, secs: u64) -> Env {
        if let Ok(LockBackend::Etcd(s)) = &mut env.locks {
            s.ttl = Duration::from_secs(secs);
        }
        env
    }

    fn take(
        env: &Env,
        limit: Option<Duration>,
        log: &std::sync::Arc<Log>,
    ) -> Result<Held, LockError> {
        let id = DeviceIdentity {
            transport: "snmp",
            address: "192.0.2.9".into(),
            port: Some(161),
            unit: None,
        };
        let clock = RealClock::started_at(Instant::now());
        log::scope(log, || {
            acquire(
                env,
                &id,
                LockMode::Exclusive,
                limit,
                "pid 1 (test on)",
                &clock,
            )
        })
    }

    #[test]
    fn a_waiter_whose_lease_expired_meanwhile_is_not_given_the_device() {
        // etcd answers a lock call on an expired lease with a key that no longer exists.
        let fake = etcd(false, Duration::from_millis(1100), true, false);
        let log = memory_log();
        let err = take(&env(&fake, "expired"), None, &log).err().unwrap();
        assert!(
            matches!(&err, LockError::Local(m) if m.contains("expired while it waited for device snmp:192.0.2.9:161")),
            "{err:?}"
        );
        assert_eq!(
            fake.paths().last().map(String::as_str),
            Some("lease/revoke")
        );
        assert!(
            log.lines()
                .iter()
                .any(|l| l.contains(&format!("in use by {OTHER}"))),
            "{:?}",
            log.lines()
        );
    }

    #[test]
    fn a_waiter_out_of_time_names_the_holder_and_leaves_the_queue() {
        let fake = etcd(false, Duration::from_secs(5), true, true);
        let log = memory_log();
        let t = Instant::now();
        let err = take(
            &env(&fake, "timeout"),
            Some(Duration::from_millis(400)),
            &log,
        )
        .err()
        .unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        match err {
            LockError::TimedOut(m) => {
                assert!(m.starts_with("gave up after 0."), "{m}");
                assert!(
                    m.ends_with(&format!(
                        "waiting for device {DEVICE} across hosts (etcd), in use by {OTHER}"
                    )),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            fake.paths().last().map(String::as_str),
            Some("lease/revoke")
        );
    }

    #[test]
    fn a_lease_lost_while_holding_is_logged_and_the_call_goes_on() {
        let fake = etcd(true, Duration::ZERO, false, true);
        let log = memory_log();
        let held = take(&env(&fake, "lost"), None, &log).unwrap();
        assert!(
            held.describe()
                .contains("etcd fencebox/lock/snmp:192.0.2.9:161/10"),
            "{}",
            held.describe()
        );
        // The first renewal comes a third of the TTL in.
        std::thread::sleep(Duration::from_millis(900));
        log::scope(&log, || held.release());
        let lines = log.lines();
        assert!(
            lines.iter().any(|l| l.contains(
                "ERROR: the etcd lease of the lock of device snmp:192.0.2.9:161 has expired"
            )),
            "{lines:?}"
        );
        let paths = fake.paths();
        assert_eq!(paths.first().map(String::as_str), Some("lease/grant"));
        assert_eq!(paths[1], "kv/txn");
        assert!(paths.contains(&"lease/keepalive".to_string()), "{paths:?}");
        assert_eq!(paths.last().map(String::as_str), Some("lease/revoke"));
    }

    #[test]
    fn an_uncontended_lock_is_three_requests_and_two_with_a_lease_handed_on() {
        let fake = etcd(true, Duration::ZERO, true, true);
        let log = memory_log();
        let env = ttl(env(&fake, "three"), 30);
        let held = take(&env, None, &log).unwrap();
        held.release();
        assert_eq!(fake.paths(), ["lease/grant", "kv/txn", "kv/deleterange"]);
        {
            let seen = fake.seen.lock().unwrap();
            let put = &seen[1].1["success"][0]["request_put"];
            let value = B64.decode(put["value"].as_str().unwrap()).unwrap();
            let value = String::from_utf8(value).unwrap();
            assert!(value.ends_with(" pid 1 (test on)"), "{value}");
            assert_eq!(put["lease"], "16");
            assert_eq!(seen[2].1["key"], b64(&entry()), "this call's entry only");
        }
        // The lease lives on for the next call of this host, which spares its grant.
        let note = std::fs::read_to_string(env.lock_dir.join(spare_lease::FILE)).unwrap();
        assert!(note.starts_with("16 30 "), "{note}");
        take(&env, None, &log).unwrap().release();
        assert_eq!(
            fake.paths()[3..],
            ["kv/txn", "kv/deleterange"],
            "{:?}",
            fake.paths()
        );
        assert!(
            log.lines().iter().all(|l| !l.contains("WARNING")),
            "{:?}",
            log.lines()
        );
    }

    #[test]
    fn a_lease_handed_on_but_revoked_meanwhile_is_replaced() {
        let fake = etcd(true, Duration::ZERO, true, true);
        let log = memory_log();
        let env = ttl(env(&fake, "revoked"), 30);
        let Ok(LockBackend::Etcd(settings)) = &env.locks else {
            unreachable!()
        };
        std::fs::create_dir_all(&env.lock_dir).unwrap();
        let now = spare_lease::since_boot().unwrap();
        spare_lease::hand_on(&env.lock_dir, settings, LeaseId(99), now).unwrap();
        let held = take(&env, None, &log).unwrap();
        assert!(held.describe().ends_with("/10"), "{}", held.describe());
        held.release();
        assert_eq!(
            fake.paths(),
            ["kv/txn", "lease/grant", "kv/txn", "kv/deleterange"]
        );
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen[0].1["success"][0]["request_put"]["lease"], "99");
        // Not renewed before the queue took it, so not reported lost either.
        assert!(
            log.lines().iter().all(|l| !l.contains("ERROR")),
            "{:?}",
            log.lines()
        );
    }

    #[test]
    fn a_handed_on_lease_is_renewed_when_two_thirds_of_its_ttl_are_left() {
        let log = memory_log();
        for (age, renewed) in [(3_300, true), (0, false)] {
            let fake = etcd(true, Duration::ZERO, true, true);
            let env = ttl(env(&fake, "renewal"), 10);
            let Ok(LockBackend::Etcd(settings)) = &env.locks else {
                unreachable!()
            };
            std::fs::create_dir_all(&env.lock_dir).unwrap();
            let at = spare_lease::since_boot().unwrap() - Duration::from_millis(age);
            assert!(spare_lease::hand_on(&env.lock_dir, settings, LeaseId(16), at).unwrap());
            let held = take(&env, None, &log).unwrap();
            std::thread::sleep(Duration::from_millis(600));
            held.release();
            let paths = fake.paths();
            assert_eq!(
                paths.first().map(String::as_str),
                Some("kv/txn"),
                "{paths:?}"
            );
            assert_eq!(
                paths.contains(&"lease/keepalive".to_string()),
                renewed,
                "{age} ms old: {paths:?}"
            );
        }
    }

    #[test]
    fn a_failed_deletion_or_a_request_sent_twice_ends_the_lease_instead() {
        // The entry's deletion refused: the lease is revoked (its entry goes with it).
        let normal = answers(true, Duration::ZERO, true, true);
        let refusing = Fake::start(move |path, body: &Value| match path {
            "kv/deleterange" => Reply {
                status: 400,
                body: json!({"message": "no"}),
                delay: Duration::ZERO,
            },
            _ => normal(path, body),
        });
        let refused = ttl(env(&refusing, "refused"), 30);
        take(&refused, None, &memory_log()).unwrap().release();
        assert_eq!(
            refusing.paths(),
            ["lease/grant", "kv/txn", "kv/deleterange", "lease/revoke"]
        );
        assert!(!refused.lock_dir.join(spare_lease::FILE).exists());
        // The queue's transaction answered only when sent again: the first may yet be
        // applied, late, to this lease's entry, so the lease is not handed on.
        let txns = std::sync::atomic::AtomicUsize::new(0);
        let normal = answers(true, Duration::ZERO, true, true);
        let slow = Fake::start(move |path, body: &Value| match path {
            "kv/txn" if txns.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 => Reply {
                status: 503,
                body: json!({"message": "etcdserver: request timed out"}),
                delay: Duration::ZERO,
            },
            _ => normal(path, body),
        });
        let twice = ttl(env(&slow, "twice"), 30);
        take(&twice, None, &memory_log()).unwrap().release();
        assert_eq!(
            slow.paths(),
            ["lease/grant", "kv/txn", "kv/txn", "lease/revoke"]
        );
        assert!(!twice.lock_dir.join(spare_lease::FILE).exists());
    }

    #[test]
    fn a_lease_lost_while_holding_is_not_handed_on() {
        let fake = etcd(true, Duration::ZERO, false, true);
        let log = memory_log();
        let env = env(&fake, "not-on");
        let held = take(&env, None, &log).unwrap();
        std::thread::sleep(Duration::from_millis(900));
        log::scope(&log, || held.release());
        assert!(!env.lock_dir.join(spare_lease::FILE).exists());
        assert_eq!(
            fake.paths().last().map(String::as_str),
            Some("lease/revoke")
        );
    }

    /// An uncontended member `id` of a cluster whose leader is member 2 in term 5, which
    /// `members` lists with their client URLs.
    fn member(id: &'static str, members: Value) -> Fake {
        Fake::start(move |path, _: &Value| {
            let header = json!({"member_id": id, "raft_term": "5"});
            match path {
                "lease/grant" => Reply::ok(json!({"header": header, "ID": "16", "TTL": "2"})),
                "kv/txn" => Reply::ok(
                    json!({"header": {"member_id": id, "raft_term": "5", "revision": "7"}, "succeeded": true,
                    "responses": [{"response_put": {}}, {"response_range": {"kvs": [
                        {"key": b64(&entry()), "create_revision": "7", "lease": "16"}]}}]}),
                ),
                "lease/revoke" => Reply::ok(json!({"header": header})),
                "kv/deleterange" => Reply::ok(json!({"header": header, "deleted": "1"})),
                "maintenance/status" => Reply::ok(json!({"header": header, "leader": "2"})),
                "cluster/member/list" => Reply::ok(json!({"header": header, "members": members})),
                _ => Reply {
                    status: 404,
                    body: json!({"message": "not here"}),
                    delay: Duration::ZERO,
                },
            }
        })
    }

    /// A cluster of a follower (member 1, first) and the leader (member 2), with `before`
    /// endpoints ahead of them; the Env's lock directory is named `name`.
    fn pair(name: &str, before: &[String]) -> (Fake, Fake, Env) {
        let leader = member("2", json!([]));
        let follower = member(
            "1",
            json!([{"ID": "1", "clientURLs": ["http://192.0.2.1:2379"]},
                   {"ID": "2", "clientURLs": [format!("{}/", leader.endpoint)]}]),
        );
        let mut env = ttl(env(&follower, name), 30);
        if let Ok(LockBackend::Etcd(s)) = &mut env.locks {
            s.endpoints = before.to_vec();
            s.endpoints.push(follower.endpoint.clone());
            s.endpoints.push(leader.endpoint.clone());
        }
        (follower, leader, env)
    }

    /// The note once the check of the call before has written it.
    fn noted(env: &Env, expected: &str) -> String {
        let file = env.lock_dir.join(leader_note::FILE);
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text == expected || Instant::now() > until {
                return text;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn calls_learn_the_leader_and_go_there_first() {
        let (follower, leader, env) = pair("leader", &[]);
        let log = memory_log();
        // The first call knows no leader: the first endpoint, and who leads is asked beside.
        take(&env, None, &log).unwrap().release();
        let expected = format!("2 5 {}\n", leader.endpoint);
        assert_eq!(noted(&env, &expected), expected);
        let asked = follower.paths();
        assert_eq!(asked.first().map(String::as_str), Some("lease/grant"));
        for path in [
            "kv/txn",
            "kv/deleterange",
            "maintenance/status",
            "cluster/member/list",
        ] {
            assert!(asked.contains(&path.to_string()), "{path}: {asked:?}");
        }
        assert!(leader.paths().is_empty(), "{:?}", leader.paths());
        // The next ones go to the leader (with the lease the first one handed on), and
        // asking again is not needed while it leads.
        take(&env, None, &log).unwrap().release();
        take(&env, None, &log).unwrap().release();
        assert_eq!(leader.paths(), ["kv/txn", "kv/deleterange"].repeat(2));
        assert_eq!(follower.paths().len(), asked.len());
    }

    #[test]
    fn a_noted_leader_that_is_gone_is_left_and_the_new_one_noted() {
        // An endpoint nobody listens on, noted as the leader's.
        let gone = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let (follower, leader, env) = pair("gone", std::slice::from_ref(&gone));
        std::fs::create_dir_all(&env.lock_dir).unwrap();
        let file = env.lock_dir.join(leader_note::FILE);
        std::fs::write(&file, format!("9 4 {gone}\n")).unwrap();
        let log = memory_log();
        take(&env, None, &log).unwrap().release();
        let expected = format!("2 5 {}\n", leader.endpoint);
        assert_eq!(noted(&env, &expected), expected);
        assert_eq!(
            follower.paths().first().map(String::as_str),
            Some("lease/grant")
        );
        take(&env, None, &log).unwrap().release();
        assert_eq!(leader.paths(), ["kv/txn", "kv/deleterange"]);
    }

    #[test]
    fn a_leader_this_host_cannot_reach_is_not_noted_as_the_way() {
        // The leader's own endpoint is listed but refuses this host (nobody listens):
        // the member list names it, yet the note keeps no endpoint, so that the calls of
        // this term start elsewhere instead of trying it first each time.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let follower = member(
            "1",
            json!([{"ID": "1", "clientURLs": ["http://192.0.2.1:2379"]},
                   {"ID": "2", "clientURLs": [closed.clone()]}]),
        );
        let mut env = ttl(env(&follower, "unreached"), 30);
        if let Ok(LockBackend::Etcd(s)) = &mut env.locks {
            s.endpoints = vec![closed.clone(), follower.endpoint.clone()];
        }
        std::fs::create_dir_all(&env.lock_dir).unwrap();
        std::fs::write(
            env.lock_dir.join(leader_note::FILE),
            format!("2 5 {closed}\n"),
        )
        .unwrap();
        let log = memory_log();
        take(&env, None, &log).unwrap().release();
        assert_eq!(noted(&env, "2 5\n"), "2 5\n");
        // Same term, no news: the next call asks nobody who leads.
        let before = follower.paths().len();
        take(&env, None, &log).unwrap().release();
        let after = follower.paths();
        assert_eq!(after[before..], ["kv/txn", "kv/deleterange"]);
    }

    #[test]
    fn lock_names_never_nest_and_read_back() {
        let keys = Keys::new("fencebox/");
        let name = keys.lock("dummy:/tmp/a%b");
        assert_eq!(name, "fencebox/lock/dummy:%2Ftmp%2Fa%25b");
        let entry = format!("{name}/220ba24ead396005");
        assert_eq!(
            keys.device_of(entry.as_bytes()).as_deref(),
            Some("dummy:/tmp/a%b")
        );
        assert_eq!(keys.device_of(b"other/lock/x/1"), None);
    }
}
