//! `/metrics` in Prometheus' text format: requests by route and code with their durations,
//! queue depth and job durations per device, and whether each device answered its last
//! job. Labels are routes (the pattern, not the path asked), device names and codes: never
//! a token, a node list or anything a client typed.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::fleet::power::Outcome;
use crate::fleet::stats::DeviceStats;

#[derive(Default)]
struct Sum {
    count: u64,
    seconds: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), Sum>>,
    jobs: Mutex<BTreeMap<String, Sum>>,
    waits: Mutex<BTreeMap<String, Sum>>,
    reachable: Mutex<BTreeMap<String, bool>>,
}

impl Metrics {
    pub fn request(&self, route: &str, code: u16, took: Duration) {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let s = r.entry((route.to_string(), code)).or_default();
        s.count += 1;
        s.seconds += took.as_secs_f64();
    }

    /// A job ended: its run time and queue wait count for each of its devices, and each
    /// device is reachable if none of its feeds failed for want of an answer.
    pub fn job_done(&self, devices: &[String], ran: Duration, total: Duration, o: &Outcome) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        for d in devices {
            let s = jobs.entry(d.clone()).or_default();
            s.count += 1;
            s.seconds += ran.as_secs_f64();
            let w = waits.entry(d.clone()).or_default();
            w.count += 1;
            w.seconds += total.saturating_sub(ran).as_secs_f64();
        }
        drop((jobs, waits));
        let mut reach = self.reachable.lock().unwrap_or_else(|p| p.into_inner());
        for d in devices {
            let answered = o
                .nodes
                .iter()
                .flat_map(|n| &n.feeds)
                .filter(|f| &f.feed.device == d)
                .all(|f| f.state.is_some() || f.unknown_plug);
            reach.insert(d.clone(), answered);
        }
    }

    /// The text of `/metrics`, with the queues' depths as they are now.
    pub fn render(&self, depths: &BTreeMap<String, usize>) -> String {
        let mut out = String::new();
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        out.push_str(
            "# HELP fencebox_http_requests_total HTTP requests by route and status code.\n",
        );
        out.push_str("# TYPE fencebox_http_requests_total counter\n");
        let req = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((route, code), s) in req.iter() {
            let _ = writeln!(
                out,
                "fencebox_http_requests_total{{route=\"{}\",code=\"{code}\"}} {}",
                esc(route),
                s.count
            );
        }
        out.push_str(
            "# HELP fencebox_http_request_seconds_sum Time spent answering, by route and code.\n",
        );
        out.push_str("# TYPE fencebox_http_request_seconds_sum counter\n");
        for ((route, code), s) in req.iter() {
            let _ = writeln!(
                out,
                "fencebox_http_request_seconds_sum{{route=\"{}\",code=\"{code}\"}} {:.6}",
                esc(route),
                s.seconds
            );
        }
        drop(req);
        out.push_str("# HELP fencebox_queue_depth Jobs waiting for or holding a device.\n");
        out.push_str("# TYPE fencebox_queue_depth gauge\n");
        for (d, n) in depths {
            let _ = writeln!(out, "fencebox_queue_depth{{device=\"{}\"}} {n}", esc(d));
        }
        for (name, help, map) in [
            (
                "fencebox_job_seconds",
                "Time jobs spent on a device",
                &self.jobs,
            ),
            (
                "fencebox_job_wait_seconds",
                "Time jobs waited in a device's queue",
                &self.waits,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}.\n# TYPE {name} summary");
            let m = map.lock().unwrap_or_else(|p| p.into_inner());
            for (d, s) in m.iter() {
                let _ = writeln!(out, "{name}_count{{device=\"{}\"}} {}", esc(d), s.count);
                let _ = writeln!(out, "{name}_sum{{device=\"{}\"}} {:.6}", esc(d), s.seconds);
            }
        }
        out.push_str(
            "# HELP fencebox_device_up Whether the device answered its last job (1) or not (0).\n",
        );
        out.push_str("# TYPE fencebox_device_up gauge\n");
        let reach = self.reachable.lock().unwrap_or_else(|p| p.into_inner());
        for (d, up) in reach.iter() {
            let _ = writeln!(
                out,
                "fencebox_device_up{{device=\"{}\"}} {}",
                esc(d),
                u8::from(*up)
            );
        }
        out
    }
}

/// The devices' readings in `/metrics` (`fencebox stats --prometheus` of every inventory
/// device) and on the console's device pages, read only when the last read is older than
/// the configured age, and one read at a time: requests that arrive during a read wait for
/// it and share it, so however many scrapers there are, a PDU is read at most once per
/// age. Every read also goes into an hour of history per outlet, which the console plots.
pub struct StatsCache {
    /// Milliseconds; 0: the service does not read the devices' meters.
    max_age_ms: AtomicU64,
    /// Bumped on reload: readings of an earlier inventory are not served.
    generation: AtomicU64,
    last: Arc<tokio::sync::Mutex<Option<Kept>>>,
    history: Arc<Mutex<History>>,
}

struct Kept {
    at: Instant,
    generation: u64,
    read: Arc<Vec<DeviceStats>>,
}

/// How far back the history goes.
pub const HISTORY: Duration = Duration::from_secs(3600);

/// One reading of one meter: when, amperes, watts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: SystemTime,
    pub current: Option<f64>,
    pub power: Option<f64>,
}

/// The last hour of readings by (device, outlet id; `input` for the device's own).
#[derive(Default)]
struct History {
    series: BTreeMap<(String, String), VecDeque<Sample>>,
}

impl History {
    fn record(&mut self, read: &[DeviceStats], at: SystemTime) {
        for d in read {
            let Ok(Some(meter)) = &d.meter else { continue };
            let mut add = |id: &str, q: &crate::device::Quantities| {
                if q.current.is_none() && q.power.is_none() {
                    return;
                }
                let s = self
                    .series
                    .entry((d.device.clone(), id.to_string()))
                    .or_default();
                s.push_back(Sample {
                    at,
                    current: q.current,
                    power: q.power,
                });
            };
            add("input", &meter.input);
            for o in &meter.outlets {
                add(&o.id, &o.reading);
            }
        }
        let oldest = at.checked_sub(HISTORY).unwrap_or(SystemTime::UNIX_EPOCH);
        self.series.retain(|_, s| {
            while s.front().is_some_and(|x| x.at < oldest) {
                s.pop_front();
            }
            !s.is_empty()
        });
    }
}

impl StatsCache {
    pub fn new(max_age: Option<Duration>) -> StatsCache {
        let cache = StatsCache {
            max_age_ms: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            last: Arc::new(tokio::sync::Mutex::new(None)),
            history: Arc::new(Mutex::new(History::default())),
        };
        cache.set_max_age(max_age);
        cache
    }

    /// A new age (on reload); the readings kept, and any read under way, belong to the
    /// inventory before it and are not served again, nor is their history.
    pub fn set_max_age(&self, max_age: Option<Duration>) {
        let ms = max_age.map_or(0, |a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX));
        self.max_age_ms.store(ms, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut h) = self.history.lock() {
            *h = History::default();
        }
    }

    /// Whether the service reads meters at all.
    pub fn enabled(&self) -> bool {
        self.max_age_ms.load(Ordering::Relaxed) > 0
    }

    /// The readings, from `read` (a blocking read of the devices) when the kept ones are
    /// too old; None when the service does not read meters. The read runs in a task of its
    /// own: a request that gives up (Prometheus's own timeout) does not lose it, and the
    /// requests after it are served what it read.
    pub async fn read(
        &self,
        read: impl FnOnce() -> Vec<DeviceStats> + Send + 'static,
    ) -> Option<Arc<Vec<DeviceStats>>> {
        let max_age = Duration::from_millis(self.max_age_ms.load(Ordering::Relaxed));
        if max_age.is_zero() {
            return None;
        }
        let generation = self.generation.load(Ordering::Relaxed);
        let last = Arc::clone(&self.last);
        let history = Arc::clone(&self.history);
        let task = tokio::spawn(async move {
            let mut kept = last.lock().await;
            if let Some(k) = kept.as_ref() {
                if k.generation == generation && k.at.elapsed() < max_age {
                    return Some(Arc::clone(&k.read));
                }
            }
            let read = Arc::new(tokio::task::spawn_blocking(read).await.ok()?);
            if let Ok(mut h) = history.lock() {
                h.record(&read, SystemTime::now());
            }
            *kept = Some(Kept {
                at: Instant::now(),
                generation,
                read: Arc::clone(&read),
            });
            Some(read)
        });
        task.await.ok().flatten()
    }

    /// The last hour of one meter (`input`, or an outlet's id), oldest first.
    pub fn history(&self, device: &str, id: &str) -> Vec<Sample> {
        self.history
            .lock()
            .map(|h| {
                h.series
                    .get(&(device.to_string(), id.to_string()))
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }
}
