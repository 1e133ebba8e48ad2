//! etcd's v3 API through its JSON gateway: HTTP/1.1 POSTs of JSON on a member's client
//! port (`/v3/<service>/<method>`), bytes as standard base64, 64-bit integers as decimal
//! strings. Leases, the lock service and key ranges; nothing of devices or fencing.
//!
//! The gateway rather than gRPC: every agent call is a short process, and the gRPC client
//! (`etcd-client`) needs an async runtime and protoc at build time; a blocking HTTP client
//! costs neither. Any member serves any call (followers forward writes to the leader), so
//! a call that finds a member gone or electing goes on to the next one. A write sent to the
//! leader itself saves the forwarding hop (a tenth to a third of a commit on loopback):
//! `leader` finds which endpoint that is, and `for_call` starts a call's requests there.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(test)]
pub mod fake;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

/// Why an etcd call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No member answered in time (refused, reset, silent, or without a leader); the text
    /// says what each one did.
    Unreachable(String),
    /// A member answered with an error that another member would answer too.
    Refused(String),
    /// The caller's time ran out while the cluster was answering (a lock still held by
    /// someone else).
    TimedOut,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Unreachable(m) => write!(f, "no etcd member answered ({m})"),
            Error::Refused(m) => write!(f, "etcd refused the request: {m}"),
            Error::TimedOut => write!(f, "the time ran out"),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// TLS toward the members: the CA their certificates are checked against, and a client
/// certificate with its key when they ask for one (all PEM files).
#[derive(Debug, Clone, Default)]
pub struct Tls<'a> {
    pub ca: Option<&'a Path>,
    pub certificate: Option<&'a Path>,
    pub key: Option<&'a Path>,
}

/// A lease, as etcd numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseId(pub i64);

impl LeaseId {
    /// The hexadecimal form etcd's lock service appends to a lock's name.
    pub fn hex(self) -> String {
        format!("{:x}", self.0)
    }
}

/// A member in a raft term, as an answer's header names them (the term is the one the
/// member last applied an entry in). Raft elects at most one leader per term: a member that
/// committed a write in term T was the leader of T, and a later answer in T from the same
/// member means no election has happened since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub member: u64,
    pub term: u64,
}

impl Term {
    /// The member that answered, in the term it answered in.
    fn of_answer(answer: &Value) -> Option<Term> {
        Some(Term {
            member: number_of::<u64>(&answer["header"]["member_id"])?,
            term: number_of::<u64>(&answer["header"]["raft_term"])?,
        })
    }
}

/// A lease as granted, and who granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub lease: LeaseId,
    pub by: Option<Term>,
}

/// One key of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub lease: Option<LeaseId>,
}

/// A place in a lock's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// This entry's key.
    pub key: Vec<u8>,
    /// Whether this entry is the oldest: the lock is held.
    pub held: bool,
    /// The oldest entry (the holder), this one when `held`.
    pub first: Kv,
    /// The member that answered, and its term.
    pub by: Option<Term>,
}

/// The size of a connection's buffers, each way.
const BUFFER: usize = 16 * 1024;

/// A client of one cluster. Cheap to clone; clones share connections, the member that
/// answered last, and the member asked next (`for_call` gives a call a cursor of its own).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    endpoints: Arc<Vec<String>>,
    /// The member asked next.
    current: Arc<AtomicUsize>,
    /// The member that answered last, shared by every call of the process.
    last_answered: Arc<AtomicUsize>,
    /// Whether a request of this call failed after it may have reached a member (`for_call`
    /// starts a call without): it may still be applied, late, and etcd does not
    /// recognise a request sent again.
    unanswered: Arc<AtomicBool>,
    /// How long one member may take to answer a short call.
    request_timeout: Duration,
}

impl Client {
    /// A client of the members at `endpoints` (`http://` or `https://` URLs). Fails when a
    /// TLS file cannot be read; the message names it.
    pub fn new(endpoints: &[String], tls: &Tls, request_timeout: Duration) -> Result<Client> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Each phase bounded rather than one global timeout: with a global one ureq
            // resolves every address on a thread of its own, even an IP address (see
            // call_with for names).
            .timeout_connect(Some(request_timeout))
            .timeout_send_request(Some(request_timeout))
            .timeout_send_body(Some(request_timeout))
            .timeout_recv_response(Some(request_timeout))
            .timeout_recv_body(Some(request_timeout))
            // etcd answers its own errors; nothing here redirects.
            .max_redirects(0)
            // The members are named in the site settings: an http_proxy of the caller's
            // environment (ureq reads it by default) must not carry the lock elsewhere.
            .proxy(None)
            // etcd's answers to a lock's requests are a few hundred bytes: ureq's default
            // buffers (128 KiB each way, zeroed at every connection) cost a call ~60 page
            // faults. Larger bodies (a long queue in `fencebox locks`) are read in parts.
            .input_buffer_size(BUFFER)
            .output_buffer_size(BUFFER)
            .max_response_header_size(BUFFER)
            .user_agent("fencebox");
        if tls.ca.is_some() || tls.certificate.is_some() {
            config = config.tls_config(tls_config(tls)?);
        }
        Ok(Client {
            agent: config.build().new_agent(),
            endpoints: Arc::new(endpoints.to_vec()),
            current: Arc::new(AtomicUsize::new(0)),
            last_answered: Arc::new(AtomicUsize::new(0)),
            unanswered: Arc::new(AtomicBool::new(false)),
            request_timeout,
        })
    }

    /// The endpoints, in the order they were given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// A client for one call (and its clones): the same connections, with a cursor of its
    /// own, so that the members another call moves on from do not move this one. It asks
    /// `first` first when that is one of the endpoints, else the member that answered last.
    pub fn for_call(&self, first: Option<&str>) -> Client {
        let at = first
            .and_then(|f| self.endpoints.iter().position(|e| e == f))
            .unwrap_or_else(|| self.last_answered.load(Ordering::Relaxed));
        Client {
            current: Arc::new(AtomicUsize::new(at)),
            unanswered: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    /// Whether a request of this call (of `for_call`, and its clones) failed after it may
    /// have reached a member: it may still be applied, late.
    pub fn had_unanswered(&self) -> bool {
        self.unanswered.load(Ordering::Relaxed)
    }

    /// The endpoint asked next (the one that answered last, unless it failed since).
    pub fn current_endpoint(&self) -> &str {
        let n = self.endpoints.len().max(1);
        self.endpoints
            .get(self.current.load(Ordering::Relaxed) % n)
            .map_or("", String::as_str)
    }

    /// The leader now, in its term, and which of this client's endpoints reaches it (None
    /// when none of them is among the leader's client URLs, behind a proxy say).
    pub fn leader(&self, deadline: Instant) -> Result<(Term, Option<String>)> {
        let (status, at) = self.call_with(
            "maintenance/status",
            &json!({}),
            deadline,
            self.request_timeout,
        )?;
        let Some(answered) = Term::of_answer(&status) else {
            return Err(Error::Refused(format!(
                "a status without a header: {status}"
            )));
        };
        // The gateway leaves a zero out: no leader field is no leader.
        let Some(leader) = number_of::<u64>(&status["leader"]).filter(|l| *l != 0) else {
            return Err(Error::Unreachable(
                "no leader (an election under way)".into(),
            ));
        };
        let term = Term {
            member: leader,
            term: answered.term,
        };
        if answered.member == leader {
            return Ok((term, self.endpoints.get(at).cloned()));
        }
        let members = self.call("cluster/member/list", &json!({}), deadline)?;
        let urls = members["members"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|m| number_of::<u64>(&m["ID"]) == Some(leader))
            })
            .and_then(|m| m["clientURLs"].as_array())
            .cloned()
            .unwrap_or_default();
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        let endpoint = self
            .endpoints
            .iter()
            .find(|e| urls.iter().any(|u| u.as_str().is_some_and(|u| same(u, e))))
            .cloned();
        Ok((term, endpoint))
    }

    /// A new lease of `ttl` (etcd raises a TTL below its minimum).
    pub fn grant(&self, ttl: Duration, deadline: Instant) -> Result<Granted> {
        let answer = self.call(
            "lease/grant",
            &json!({ "TTL": ttl.as_secs().max(1) }),
            deadline,
        )?;
        let lease = lease_of(&answer, "ID")
            .ok_or_else(|| Error::Refused(format!("a lease grant without an ID: {answer}")))?;
        Ok(Granted {
            lease,
            by: Term::of_answer(&answer),
        })
    }

    /// Renew a lease once: its TTL now, or None when etcd no longer knows it (expired or
    /// revoked; the gateway answers 200 either way).
    pub fn keepalive(&self, lease: LeaseId, deadline: Instant) -> Result<Option<Duration>> {
        let answer = self.call(
            "lease/keepalive",
            &json!({ "ID": lease.0.to_string() }),
            deadline,
        )?;
        Ok(number_of::<i64>(&answer["result"]["TTL"])
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t.unsigned_abs())))
    }

    /// End a lease: its keys go with it, so its locks are free and its waiters leave the
    /// queue. A lease etcd no longer knows counts as revoked.
    pub fn revoke(&self, lease: LeaseId, deadline: Instant) -> Result<()> {
        match self.call(
            "lease/revoke",
            &json!({ "ID": lease.0.to_string() }),
            deadline,
        ) {
            Err(Error::Refused(m)) if m.contains("lease not found") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Take the lock `name` for `lease`, waiting in line (first come, first served by
    /// revision) until `deadline` (None: as long as it takes). Returns the key that stands
    /// for this holder. The lease must be kept alive meanwhile: etcd does not.
    pub fn lock(&self, name: &[u8], lease: LeaseId, deadline: Option<Instant>) -> Result<Vec<u8>> {
        let body = json!({ "name": B64.encode(name), "lease": lease.0.to_string() });
        // A day stands for no limit: the request needs some timeout.
        let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let answer = self.call_waiting("lock/lock", &body, deadline)?;
        bytes_of(&answer["key"])
            .ok_or_else(|| Error::Refused(format!("a lock answer without a key: {answer}")))
    }

    /// Join the queue of the lock `name` as etcd's lock service does (an entry
    /// `name/<lease hex>` bound to the lease; the oldest entry holds the lock), with
    /// `value` written on the entry, in one transaction that also reads who is first.
    /// When this entry is not first, `lock` waits its turn on the same entry.
    pub fn enqueue(
        &self,
        name: &[u8],
        lease: LeaseId,
        value: &[u8],
        deadline: Instant,
    ) -> Result<Queued> {
        let mut key = name.to_vec();
        key.push(b'/');
        let queue = key.clone();
        key.extend_from_slice(lease.hex().as_bytes());
        let first = json!({ "request_range": {
            "key": B64.encode(&queue),
            "range_end": B64.encode(prefix_end(&queue)),
            "sort_target": "CREATE",
            "sort_order": "ASCEND",
            "limit": "1",
        }});
        let body = json!({
            "compare": [{ "target": "CREATE", "key": B64.encode(&key), "result": "EQUAL", "create_revision": "0" }],
            "success": [
                { "request_put": { "key": B64.encode(&key), "value": B64.encode(value), "lease": lease.0.to_string() } },
                first,
            ],
            "failure": [{ "request_range": { "key": B64.encode(&key) } }, first],
        });
        let answer = self.call("kv/txn", &body, deadline)?;
        let responses = answer["responses"].as_array().cloned().unwrap_or_default();
        let range = |i: usize| {
            responses
                .get(i)
                .map(|r| kvs_of(&r["response_range"]))
                .unwrap_or_default()
        };
        let mine = if answer["succeeded"].as_bool() == Some(true) {
            number_of::<i64>(&answer["header"]["revision"])
        } else {
            range(0).first().map(|kv| kv.create_revision)
        };
        let (Some(mine), Some(first)) = (mine, range(1).into_iter().next()) else {
            return Err(Error::Refused(format!(
                "a lock transaction answered without the queue: {answer}"
            )));
        };
        Ok(Queued {
            held: first.create_revision == mine,
            first,
            key,
            by: Term::of_answer(&answer),
        })
    }

    /// Delete `key`; whether it was there.
    pub fn delete(&self, key: &[u8], deadline: Instant) -> Result<bool> {
        let answer = self.call(
            "kv/deleterange",
            &json!({ "key": B64.encode(key) }),
            deadline,
        )?;
        Ok(number_of::<i64>(&answer["deleted"]).unwrap_or(0) > 0)
    }

    /// Write `value` at `key`, bound to `lease` (it goes when the lease does).
    pub fn put(&self, key: &[u8], value: &[u8], lease: LeaseId, deadline: Instant) -> Result<()> {
        let body = json!({
            "key": B64.encode(key),
            "value": B64.encode(value),
            "lease": lease.0.to_string(),
        });
        self.call("kv/put", &body, deadline).map(|_| ())
    }

    /// Every key starting with `prefix`, oldest first (by creation revision).
    pub fn range_prefix(&self, prefix: &[u8], deadline: Instant) -> Result<Vec<Kv>> {
        let body = json!({
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
            "sort_target": "CREATE",
            "sort_order": "ASCEND",
        });
        let answer = self.call("kv/range", &body, deadline)?;
        Ok(kvs_of(&answer))
    }

    /// The key `key`, if it exists.
    pub fn get(&self, key: &[u8], deadline: Instant) -> Result<Option<Kv>> {
        let answer = self.call("kv/range", &json!({ "key": B64.encode(key) }), deadline)?;
        Ok(kvs_of(&answer).into_iter().next())
    }

    /// A short call: each member in turn for at most the request timeout, round after
    /// round, until one answers or `deadline` passes.
    fn call(&self, method: &str, body: &Value, deadline: Instant) -> Result<Value> {
        self.call_with(method, body, deadline, self.request_timeout)
            .map(|(answer, _)| answer)
    }

    /// A call that may wait (a lock): each try may take all the time that is left.
    fn call_waiting(&self, method: &str, body: &Value, deadline: Instant) -> Result<Value> {
        self.call_with(method, body, deadline, Duration::MAX)
            .map(|(answer, _)| answer)
    }

    /// The answer, and the index of the endpoint that gave it.
    fn call_with(
        &self,
        method: &str,
        body: &Value,
        deadline: Instant,
        per_try: Duration,
    ) -> Result<(Value, usize)> {
        let n = self.endpoints.len().max(1);
        let mut seen: Vec<String> = Vec::new();
        let mut refused_in_a_row = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Unreachable(summary(&seen, method)));
            }
            let at = self.current.load(Ordering::Relaxed) % n;
            let Some(endpoint) = self.endpoints.get(at) else {
                return Err(Error::Unreachable("no endpoints".into()));
            };
            let url = format!("{endpoint}/v3/{method}");
            let limit = left.min(per_try);
            let phase = Some(limit.min(self.request_timeout));
            // A host name is looked up on a thread that the limit can abandon; an address
            // needs no lookup.
            let resolve = host_of(endpoint)
                .parse::<std::net::IpAddr>()
                .is_err()
                .then_some(limit);
            let sent = self
                .agent
                .post(&url)
                .config()
                .timeout_resolve(resolve)
                .timeout_connect(phase)
                .timeout_send_request(phase)
                .timeout_send_body(phase)
                .timeout_recv_response(Some(limit))
                .timeout_recv_body(phase)
                .build()
                .header("content-type", "application/json")
                .send(body.to_string());
            let failure = match sent {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response
                        .body_mut()
                        .with_config()
                        .limit(16 * 1024 * 1024)
                        .read_to_string()
                        .unwrap_or_default();
                    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if status == 200 {
                        self.last_answered.store(at, Ordering::Relaxed);
                        return Ok((answer, at));
                    }
                    let message = answer["message"]
                        .as_str()
                        .or(answer["error"].as_str())
                        .unwrap_or(text.trim())
                        .to_string();
                    if !member_trouble(status, &message) {
                        return Err(Error::Refused(format!("{message} (HTTP {status})")));
                    }
                    // A member in trouble may still apply it (a proposal timed out).
                    self.unanswered.store(true, Ordering::Relaxed);
                    refused_in_a_row = 0;
                    format!("{endpoint}: {message}")
                }
                Err(ureq::Error::Timeout(_)) if per_try == Duration::MAX => {
                    // A lock call that used all the time there was: still in line (the
                    // closed connection takes this waiter out of it).
                    return Err(Error::TimedOut);
                }
                Err(e) => {
                    if matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
                        || matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)
                    {
                        refused_in_a_row += 1;
                    } else {
                        // Sent, perhaps, and never answered.
                        self.unanswered.store(true, Ordering::Relaxed);
                        refused_in_a_row = 0;
                    }
                    format!("{endpoint}: {e}")
                }
            };
            seen.push(failure);
            // The next member; after a whole round of refused connections nobody listens.
            self.current.store((at + 1) % n, Ordering::Relaxed);
            if refused_in_a_row >= n {
                return Err(Error::Unreachable(summary(&seen, method)));
            }
            if seen.len().is_multiple_of(n) {
                // A whole round failed (an election under way): a moment before the next.
                std::thread::sleep(
                    Duration::from_millis(100)
                        .min(deadline.saturating_duration_since(Instant::now())),
                );
            }
        }
    }
}

/// The host of an endpoint URL, without brackets: `http://[::1]:2379` gives `::1`.
fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
    }
}

/// Whether an error status is the member's trouble (no leader, overloaded, stopping),
/// so that another member, or the same one a moment later, may do better.
fn member_trouble(status: u16, message: &str) -> bool {
    status >= 500
        && !message.contains("lease not found")
        && !message.contains("requested lease not found")
}

/// The last few failures, for the one line a caller logs.
fn summary(seen: &[String], method: &str) -> String {
    if seen.is_empty() {
        return format!("{method}: no answer in time");
    }
    let start = seen.len().saturating_sub(3);
    seen[start..].join("; ")
}

/// The first key after every key that starts with `prefix`: the prefix with its last byte
/// that is not 0xff counted up (etcd's range_end for "every key with this prefix").
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): to the end of the key space.
    vec![0]
}

/// A 64-bit number as the gateway writes it (a decimal string; a JSON number is taken
/// too): member IDs need the unsigned range, revisions and leases the signed one.
fn number_of<T>(v: &Value) -> Option<T>
where
    T: std::str::FromStr + TryFrom<i64> + TryFrom<u64>,
{
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => T::try_from(u).ok(),
            (None, Some(i)) => T::try_from(i).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn lease_of(v: &Value, field: &str) -> Option<LeaseId> {
    number_of::<i64>(&v[field])
        .filter(|id| *id != 0)
        .map(LeaseId)
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    v.as_str().and_then(|s| B64.decode(s).ok())
}

fn kvs_of(answer: &Value) -> Vec<Kv> {
    answer["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .filter_map(|kv| {
                    Some(Kv {
                        key: bytes_of(&kv["key"])?,
                        value: bytes_of(&kv["value"]).unwrap_or_default(),
                        create_revision: number_of::<i64>(&kv["create_revision"]).unwrap_or(0),
                        lease: lease_of(kv, "lease"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The TLS settings from the PEM files: the CA's certificates as the only roots, and the
/// client certificate chain with its key.
fn tls_config(tls: &Tls) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{parse_pem, ClientCert, PemItem, RootCerts, TlsConfig};
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| Error::Refused(format!("cannot read {} ({e})", p.display())))
    };
    let items = |p: &Path| -> Result<Vec<PemItem<'static>>> {
        let pem = read(p)?;
        parse_pem(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Refused(format!("{} is not PEM ({e})", p.display())))
    };
    let mut builder = TlsConfig::builder();
    if let Some(ca) = tls.ca {
        let certs: Vec<_> = items(ca)?
            .into_iter()
            .filter_map(|i| match i {
                PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(Error::Refused(format!(
                "{} holds no PEM certificate",
                ca.display()
            )));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let (Some(cert), Some(key)) = (tls.certificate, tls.key) {
        let chain: Vec<_> = items(cert)?
            .into_iter()
            .filter_map(|i| match i {
                PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        let private = items(key)?.into_iter().find_map(|i| match i {
            PemItem::PrivateKey(k) => Some(k),
            _ => None,
        });
        let Some(private) = private.filter(|_| !chain.is_empty()) else {
            return Err(Error::Refused(format!(
                "{} and {} must hold a PEM certificate and its private key",
                cert.display(),
                key.display()
            )));
        };
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, private)));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hosts() {
        assert_eq!(host_of("http://127.0.0.1:2379"), "127.0.0.1");
        assert_eq!(host_of("https://[::1]:2379"), "::1");
        assert_eq!(host_of("https://etcd1.example:2379"), "etcd1.example");
    }

    #[test]
    fn a_prefix_ends_at_its_successor() {
        assert_eq!(prefix_end(b"fencebox/lock/"), b"fencebox/lock0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn ranges_and_leases_read_as_the_gateway_writes_them() {
        let answer: Value = serde_json::from_str(
            r#"{"header":{"revision":"5"},"kvs":[{"key":"ZmVuY2Vib3gvbG9jay9wZHUwMS8yMjBiYTI0ZWFkMzk2MDA1","create_revision":"2","mod_revision":"2","version":"1","lease":"2453232880830734341"}],"count":"1"}"#,
        )
        .unwrap();
        let kvs = kvs_of(&answer);
        assert_eq!(kvs.len(), 1);
        assert_eq!(kvs[0].key, b"fencebox/lock/pdu01/220ba24ead396005".to_vec());
        assert_eq!(kvs[0].create_revision, 2);
        assert_eq!(kvs[0].lease, Some(LeaseId(2453232880830734341)));
        assert_eq!(LeaseId(2453232880830734341).hex(), "220ba24ead396005");
        assert!(kvs[0].value.is_empty());
    }
}
