//! An SNMP v1/v2c/v3 client on snmp2's synchronous session, with the timeout and retry
//! policy snmp2 leaves to its users, owned values, walks (GETBULK on v2c/v3, GETNEXT on
//! v1) and errors mapped to fencing failures. No subprocess: secrets stay in memory.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use snmp2::{v3, SyncSession};

use crate::runtime::clock::SharedClock;
pub use crate::runtime::net::{resolve, resolve_all};
use crate::snmp::oid::{format_oid, starts_with};
use crate::snmp::transport::{oid_parts, CommunitySession, Reply, Request, Session};

/// How an SNMP exchange failed; the device layer says it in fence-agents' words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnmpError {
    /// No socket to the agent (the address, the local network stack).
    Unreachable(String),
    /// The agent refused the community or the v3 credentials.
    Denied(String),
    /// The agent answered, but not with what was asked (or with an error status).
    Answer(String),
    /// The object asked for does not exist on the agent (noSuchName, noSuchObject).
    NoSuchObject(String),
    /// No answer within the tries.
    Timeout(String),
}

type Result<T> = std::result::Result<T, SnmpError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2c,
    V3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

#[derive(Debug, Clone)]
pub struct V3Params {
    pub user: String,
    pub level: SecLevel,
    pub auth_protocol: v3::AuthProtocol,
    pub auth_password: String,
    pub priv_protocol: v3::Cipher,
    pub priv_password: String,
    /// How a short localised key is stretched for AES-192/256 (net-snmp: AES256 is
    /// Blumenthal, AES256C is Reeder); None where no stretching is needed.
    pub key_extension: Option<v3::KeyExtension>,
    /// Selects the device behind a multi-device agent (an empty context is the default).
    pub context: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub version: Version,
    pub community: String,
    pub v3: Option<V3Params>,
    /// Wait for one answer.
    pub timeout: Duration,
    /// Requests sent before giving up (the first one included).
    pub tries: u32,
}

/// One column of a walk: (full OID, value) per row.
pub type Column = Vec<(Vec<u64>, Value)>;

/// A varbind value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(Vec<u8>),
    Oid(Vec<u64>),
    /// v2c/v3: the object or instance does not exist.
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    Other(String),
}

impl Value {
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }

    /// The value as text, as a PDU's name column is read.
    pub fn text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Str(b) => String::from_utf8_lossy(b).into_owned(),
            Value::Oid(o) => format_oid(o),
            other => format!("{other:?}"),
        }
    }

    pub(crate) fn from_snmp(v: &snmp2::Value<'_>) -> Value {
        use snmp2::Value as V;
        match v {
            V::Integer(i) => Value::Int(*i),
            V::Counter32(n) | V::Unsigned32(n) | V::Timeticks(n) => Value::Int(i64::from(*n)),
            V::Counter64(n) => i64::try_from(*n)
                .map(Value::Int)
                .unwrap_or(Value::Other(n.to_string())),
            V::OctetString(b) | V::Opaque(b) => Value::Str(b.to_vec()),
            V::ObjectIdentifier(o) => Value::Oid(oid_parts(o)),
            V::NoSuchObject => Value::NoSuchObject,
            V::NoSuchInstance => Value::NoSuchInstance,
            V::EndOfMibView => Value::EndOfMibView,
            V::IpAddress(a) => Value::Str(IpAddr::from(*a).to_string().into_bytes()),
            V::Null => Value::Other("null".into()),
            other => Value::Other(format!("{other:?}")),
        }
    }
}

/// RFC 3416 error-status names, for messages.
fn error_status_name(n: u32) -> &'static str {
    match n {
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown error",
    }
}

fn oid_list(oids: &[Vec<u64>]) -> String {
    oids.iter()
        .map(|o| format_oid(o))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A GET or SET answer names exactly the objects asked, in order: a varbind for another
/// object (outlet 2's state for outlet 1) must never be read as the one asked for.
fn same_objects(what: &str, target: SocketAddr, asked: &[Vec<u64>], r: &Reply) -> Result<()> {
    let names: Vec<Vec<u64>> = r.varbinds.iter().map(|(o, _)| o.clone()).collect();
    if names == asked {
        return Ok(());
    }
    Err(SnmpError::Answer(format!(
        "{what}: {target} answered about [{}] when asked about [{}]; an answer for other objects than those asked is refused (a faulty agent or proxy)",
        oid_list(&names),
        oid_list(asked)
    )))
}

fn backwards(what: &str, target: SocketAddr, asked: &[u64], got: &[u64]) -> SnmpError {
    SnmpError::Answer(format!(
        "{what}: {target} answered {} for the object after {}; a walk must move strictly forward, so its answers are refused (a faulty agent)",
        format_oid(got),
        format_oid(asked)
    ))
}

/// The answer to a GETBULK over `asked` (one column each, varbinds row by row): at most
/// `reps` rows, at least one varbind, and in every column each answer lies strictly after
/// the one before it (the first after the OID asked), up to an endOfMibView that only
/// more endOfMibViews follow. A column that goes back, repeats or ends too soon would
/// otherwise end the walk early, or give one column's rows to another.
fn check_bulk(target: SocketAddr, asked: &[Vec<u64>], reps: u32, r: &Reply) -> Result<()> {
    let n = asked.len();
    let most = n.saturating_mul(reps as usize);
    if r.varbinds.is_empty() || r.varbinds.len() > most {
        return Err(SnmpError::Answer(format!(
            "GETBULK: {target} answered with {} varbinds where 1 to {most} are possible",
            r.varbinds.len()
        )));
    }
    let mut last: Vec<&[u64]> = asked.iter().map(Vec::as_slice).collect();
    let mut ended = vec![false; n];
    for (i, (oid, value)) in r.varbinds.iter().enumerate() {
        let c = i % n;
        if ended[c] && !value.is_missing() {
            return Err(SnmpError::Answer(format!(
                "GETBULK: {target} answered {} after the end of its MIB; its rows are out of order (a faulty agent)",
                format_oid(oid)
            )));
        }
        if value.is_missing() {
            ended[c] = true; // endOfMibView repeats the name asked
            continue;
        }
        if oid.as_slice() <= last[c] {
            return Err(backwards("GETBULK", target, last[c], oid));
        }
        last[c] = oid;
    }
    Ok(())
}

/// The answer to a GETNEXT of `asked` (v1 walk): one varbind per OID asked, each strictly
/// after its own, and consistent with the others: where the asked OIDs grow, the answers
/// do not go back, and an OID asked below the previous answer has that same answer.
fn check_next(target: SocketAddr, asked: &[Vec<u64>], r: &Reply) -> Result<()> {
    if r.error_status != 0 {
        return Ok(()); // an error echoes the request; the caller handles it
    }
    if r.varbinds.len() != asked.len() {
        return Err(SnmpError::Answer(format!(
            "GETNEXT: asked {target} for {} objects, got {}",
            asked.len(),
            r.varbinds.len()
        )));
    }
    let mut prev: Option<(&[u64], &[u64])> = None;
    for (ask, (oid, value)) in asked.iter().zip(&r.varbinds) {
        if value.is_missing() {
            break; // the walk ends here
        }
        if oid <= ask {
            return Err(backwards("GETNEXT", target, ask, oid));
        }
        if let Some((prev_ask, prev_oid)) = prev {
            let lost = ask.as_slice() >= prev_ask
                && (oid.as_slice() < prev_oid || (ask.as_slice() < prev_oid && oid != prev_oid));
            if lost {
                return Err(backwards("GETNEXT", target, ask, oid));
            }
        }
        prev = Some((ask, oid));
    }
    Ok(())
}

/// A walk that has not ended after its request budget: its rows are not a whole list.
fn endless(base: &[u64], requests: u32, rows: usize) -> SnmpError {
    SnmpError::Answer(format!(
        "the walk of {} had not ended after {requests} requests ({rows} rows); a table that long is not a list of outlets (a faulty agent)",
        format_oid(base)
    ))
}

/// How many rows one GETBULK asks for: a 24-outlet PDU's column and its end in one round
/// trip, without making agents compute rows nobody asked for.
const BULK_REPETITIONS: u32 = 25;

pub struct Client {
    session: Session,
    cfg: Config,
    target: SocketAddr,
    /// Requests that got an answer (for tests and logs: list must take few round trips).
    pub round_trips: u32,
}

/// snmp2's v3 session, built in a function of its own: the session is a 130 KiB value,
/// and a caller whose stack frame had room for it would touch (and fault in) those pages
/// on every call, v1 and v2c included.
#[inline(never)]
fn open_v3(cfg: &Config, target: SocketAddr) -> std::io::Result<Session> {
    let p = cfg.v3.clone().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "SNMPv3 needs a user name (username=...)",
        )
    })?;
    let auth = match p.level {
        SecLevel::NoAuthNoPriv => v3::Auth::NoAuthNoPriv,
        SecLevel::AuthNoPriv => v3::Auth::AuthNoPriv,
        SecLevel::AuthPriv => v3::Auth::AuthPriv {
            cipher: p.priv_protocol,
            privacy_password: p.priv_password.as_bytes().to_vec(),
        },
    };
    let mut security = v3::Security::new(p.user.as_bytes(), p.auth_password.as_bytes())
        .with_auth(auth)
        .with_auth_protocol(p.auth_protocol)
        .with_context_name(&p.context);
    if let Some(k) = p.key_extension {
        security = security.with_key_extension_method(k);
    }
    Ok(Session::V3(Box::new(SyncSession::new_v3(
        target,
        Some(cfg.timeout),
        1,
        security,
    )?)))
}

impl Client {
    /// Open a session (v3: discover the engine and authenticate); no request is sent for
    /// v1/v2c until the first operation.
    /// v1/v2c waits go by `clock` (v3's are the snmp2 crate's own, in real time).
    pub fn connect(cfg: Config, target: SocketAddr, clock: SharedClock) -> Result<Client> {
        let io = |e: std::io::Error| {
            SnmpError::Unreachable(format!("cannot open a UDP socket to {target}: {e}"))
        };
        let session = match cfg.version {
            Version::V1 | Version::V2c => Session::Community(
                CommunitySession::open(
                    target,
                    cfg.version == Version::V2c,
                    cfg.community.as_bytes(),
                    cfg.timeout,
                    clock,
                )
                .map_err(io)?,
            ),
            Version::V3 => open_v3(&cfg, target).map_err(io)?,
        };
        let mut client = Client {
            session,
            cfg,
            target,
            round_trips: 0,
        };
        if client.cfg.version == Version::V3 {
            client.exchange("SNMPv3 engine discovery", |s| s.init())?;
        }
        Ok(client)
    }

    /// Send with retries. Timeouts and stray or garbled replies are retried; an
    /// authentication failure is final. Every try is the same request (v1/v2c: one
    /// request-id), so a device slower than one try's timeout is still heard while a later
    /// try waits, within tries x timeout.
    fn exchange<T>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut Session) -> std::result::Result<T, snmp2::Error>,
    ) -> Result<T> {
        use snmp2::Error as E;
        let mut last = String::from("no answer");
        let mut garbled = false;
        self.session.new_request();
        for attempt in 1..=self.cfg.tries.max(1) {
            match op(&mut self.session) {
                Ok(t) => {
                    self.round_trips += 1;
                    return Ok(t);
                }
                Err(E::AuthUpdated) => {
                    // The engine's clock moved on: the same request again is the protocol.
                    if let Ok(t) = op(&mut self.session) {
                        self.round_trips += 1;
                        return Ok(t);
                    }
                }
                Err(E::AuthFailure(kind)) => {
                    return Err(SnmpError::Denied(format!(
                        "SNMPv3 authentication with {} failed ({kind:?}): check username, password, snmp_auth_prot, snmp_priv_prot and snmp_priv_passwd",
                        self.target
                    )))
                }
                Err(E::AsnWrongType) if self.cfg.version == Version::V3 => {
                    // A v3 agent answers a request it cannot authenticate with a Report.
                    return Err(SnmpError::Denied(format!(
                        "SNMPv3 authentication with {} failed (the agent answered with a report): check username, password, security level and protocols",
                        self.target
                    )));
                }
                Err(E::Crypto(e)) => {
                    return Err(SnmpError::Denied(format!(
                        "SNMPv3 decryption of the answer from {} failed ({e}): check snmp_priv_prot and snmp_priv_passwd",
                        self.target
                    )))
                }
                Err(E::Receive) => {
                    last = "no answer".into();
                }
                Err(E::Send) => {
                    last = "cannot send".into();
                }
                Err(e) => {
                    garbled = true;
                    last = format!("unusable answer: {e}");
                }
            }
            log_debug!(
                2,
                "{what}: {last} from {} (try {attempt} of {})",
                self.target,
                self.cfg.tries
            );
        }
        let hint = match self.cfg.version {
            Version::V3 => "check ip, ipport and the SNMPv3 credentials",
            _ => "check ip, ipport, community and snmp_version",
        };
        if garbled {
            Err(SnmpError::Answer(format!(
                "{what}: {} answered with malformed or unexpected SNMP packets ({last})",
                self.target
            )))
        } else {
            Err(SnmpError::Timeout(format!(
                "{what}: {last} from {} after {} tries of {:.1} s; {hint}",
                self.target,
                self.cfg.tries,
                self.cfg.timeout.as_secs_f64()
            )))
        }
    }

    fn check(&self, what: &str, r: &Reply) -> Result<()> {
        if r.error_status == 0 {
            return Ok(());
        }
        let oid = r
            .varbinds
            .get(r.error_index.saturating_sub(1) as usize)
            .map(|(o, _)| format_oid(o))
            .unwrap_or_default();
        if r.error_status == 2 && !what.starts_with("SET") {
            // v1 reports a missing object as an error.
            return Err(SnmpError::NoSuchObject(format!("{oid} (noSuchName)")));
        }
        Err(SnmpError::Answer(format!(
            "{what}: the device refused {oid}: {}",
            error_status_name(r.error_status)
        )))
    }

    /// GET several objects in one request.
    pub fn get_many(&mut self, oids: &[Vec<u64>]) -> Result<Vec<Value>> {
        let reply = self.exchange("GET", |s| s.send(&Request::Get(oids)))?;
        self.check("GET", &reply)?;
        log_debug!(
            2,
            "GET {} -> {:?}",
            oid_list(oids),
            reply.varbinds.iter().map(|v| &v.1).collect::<Vec<_>>()
        );
        same_objects("GET", self.target, oids, &reply)?;
        Ok(reply.varbinds.into_iter().map(|(_, v)| v).collect())
    }

    pub fn get(&mut self, oid: &[u64]) -> Result<Value> {
        let mut v = self.get_many(&[oid.to_vec()])?;
        v.pop()
            .ok_or_else(|| SnmpError::Answer("GET: empty answer".into()))
    }

    /// SET one integer (or string) object; the device's refusal is an error.
    pub fn set(&mut self, oid: &[u64], value: &SetValue) -> Result<()> {
        self.set_many(&[(oid.to_vec(), value.clone())])
    }

    /// SET several objects in one request (the agent applies all or none); the device's
    /// refusal of any is an error.
    pub fn set_many(&mut self, objects: &[(Vec<u64>, SetValue)]) -> Result<()> {
        let what = match objects {
            [(oid, value)] => format!("SET {} = {value:?}", format_oid(oid)),
            _ => format!(
                "SET {}",
                objects
                    .iter()
                    .map(|(o, v)| format!("{} = {v:?}", format_oid(o)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let reply = self.exchange(&what, |s| s.send(&Request::Set(objects)))?;
        log_debug!(
            2,
            "{what} -> status {} {:?}",
            reply.error_status,
            reply.varbinds
        );
        self.check(&what, &reply)?;
        let names: Vec<Vec<u64>> = objects.iter().map(|(o, _)| o.clone()).collect();
        same_objects(&what, self.target, &names, &reply)?;
        // The outlets were read before they are set: an exception here is a refusal.
        if let Some((o, v)) = reply.varbinds.iter().find(|(_, v)| v.is_missing()) {
            return Err(SnmpError::Answer(format!(
                "{what}: the device refused {} ({v:?})",
                format_oid(o)
            )));
        }
        Ok(())
    }

    /// Walk the columns under `bases` together, row by row (GETBULK on v2c/v3, one
    /// request for up to 50 rows of every column); v1 has no GETBULK, so each column is
    /// walked with GETNEXT.
    pub fn walk_columns(&mut self, bases: &[Vec<u64>]) -> Result<Vec<Column>> {
        if self.cfg.version == Version::V1 {
            return bases.iter().map(|b| self.walk_next(b)).collect();
        }
        let n = bases.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut out: Vec<Column> = vec![Vec::new(); n];
        let mut cursor: Vec<Vec<u64>> = bases.to_vec();
        let mut done = vec![false; n];
        let mut reps = BULK_REPETITIONS;
        // Bounded: an endless table is an error, never a list cut short.
        for round in 0..=MAX_WALK_REQUESTS {
            if round == MAX_WALK_REQUESTS {
                return Err(endless(&bases[0], round, out[0].len()));
            }
            let reply = self.exchange("GETBULK", |s| s.send(&Request::GetBulk(&cursor, reps)))?;
            if reply.error_status == 1 && reps > 1 {
                reps /= 2; // tooBig: the agent's buffer is smaller than the answer
                continue;
            }
            self.check("GETBULK", &reply)?;
            check_bulk(self.target, &cursor, reps, &reply)?;
            // Varbinds come interleaved: row r, column c at r * n + c. Checked above: each
            // moves its column forward, so a column ends only where its rows end.
            for (i, (oid, value)) in reply.varbinds.into_iter().enumerate() {
                let c = i % n;
                if done[c] {
                    continue;
                }
                if value.is_missing() || !starts_with(&oid, &bases[c]) {
                    done[c] = true;
                    continue;
                }
                cursor[c].clone_from(&oid);
                out[c].push((oid, value));
            }
            // The first column decides the rows.
            if done[0] {
                break;
            }
        }
        log_debug!(
            2,
            "walk of {n} column(s): {} row(s), {} round trip(s) so far",
            out[0].len(),
            self.round_trips
        );
        Ok(out)
    }

    /// A v1 walk (v1 has no GETBULK). Where rows are numbered by one integer (most outlet
    /// tables), one GETNEXT request carries the cursor and the next SPECULATE row numbers:
    /// each varbind's answer is the row after it, so a 24-outlet table takes two round
    /// trips instead of 25, gaps in the numbering included (over a gap several rows share
    /// one answer, kept once; answers that go back are an error, see check_next). The first request guesses that shape (the column itself, then
    /// rows 0, 1, ...); when the first row turns out to have a longer index, only that
    /// answer is kept. A GETNEXT past the end of the agent's whole MIB fails the request
    /// in v1 (noSuchName): then the walk goes on one row per request.
    #[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    fn walk_next(&mut self, base: &[u64]) -> Result<Column> {
        let mut out: Column = Vec::new();
        let mut cursor = base.to_vec();
        let mut speculate = SPECULATE;
        let budget = MAX_WALK_REQUESTS.saturating_mul(BULK_REPETITIONS);
        'walk: for round in 0..=budget {
            if round == budget {
                return Err(endless(base, round, out.len()));
            }
            let first = cursor.len() == base.len();
            let ask = getnext_asks(base, &cursor, speculate);
            let mut reply = self.exchange("GETNEXT", |s| s.send(&Request::GetNext(&ask)))?;
            check_next(self.target, &ask, &reply)?;
            if first
                && reply
                    .varbinds
                    .first()
                    .is_some_and(|(o, _)| o.len() != base.len().saturating_add(1))
            {
                // Rows with a longer index (switch.1.plug): the guessed rows skip some.
                reply.varbinds.truncate(1);
            }
            match reply.error_status {
                // The row at error-index has no successor: the MIB ends there. Agents name
                // the first such row (snmpsim) or the last (net-snmp, which says nothing
                // then): ask again up to the named row, or for half as many.
                2 if ask.len() > 1 && reply.error_index != 1 => {
                    let named = (reply.error_index as usize).saturating_sub(1);
                    let fewer = if named > 0 && named < ask.len().saturating_sub(1) {
                        named
                    } else {
                        ask.len().div_euclid(2)
                    };
                    speculate = u32::try_from(fewer.max(1)).unwrap_or(1);
                    continue;
                }
                2 => break, // noSuchName past the last object
                1 if ask.len() > 1 => {
                    speculate = speculate.div_euclid(2); // tooBig: ask for fewer
                    continue;
                }
                _ => self.check("GETNEXT", &reply)?,
            }
            let mut advanced = false;
            for (oid, value) in reply.varbinds {
                if value.is_missing() || !starts_with(&oid, base) {
                    break 'walk;
                }
                if oid <= cursor {
                    continue;
                }
                cursor.clone_from(&oid);
                out.push((oid, value));
                advanced = true;
            }
            if !advanced {
                break;
            }
        }
        log_debug!(
            2,
            "v1 walk: {} row(s), {} round trip(s) so far",
            out.len(),
            self.round_trips
        );
        Ok(out)
    }

    pub fn walk(&mut self, base: &[u64]) -> Result<Column> {
        Ok(self
            .walk_columns(&[base.to_vec()])?
            .pop()
            .unwrap_or_default())
    }
}

/// The OIDs of one v1 GETNEXT request: the cursor, then the rows guessed to follow it
/// (see `walk_next`). The device chose the cursor's arcs: guesses stop at the end of the
/// u64 range rather than wrap around to row 0.
#[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn getnext_asks(base: &[u64], cursor: &[u64], speculate: u32) -> Vec<Vec<u64>> {
    let mut ask = vec![cursor.to_vec()];
    let row = |i: u64| [base, &[i]].concat();
    let more = u64::from(speculate).saturating_sub(1);
    if cursor.len() == base.len() {
        ask.extend((0..more).map(row));
    } else if cursor.len() == base.len().saturating_add(1) {
        if let Some(&k) = cursor.last() {
            ask.extend((1..=more).map_while(|i| k.checked_add(i)).map(row));
        }
    }
    ask
}

#[cfg(test)]
mod getnext_asks_tests {
    use super::getnext_asks;

    /// A device may number its rows up to u64::MAX: the guesses after such a row end
    /// there (this used to overflow, a panic in debug builds and row 0 in release).
    #[test]
    fn huge_arcs_end_the_guesses_instead_of_wrapping() {
        let base = [1, 3, 6];
        let asks = getnext_asks(&base, &[1, 3, 6, u64::MAX - 2], 16);
        assert_eq!(
            asks,
            vec![
                vec![1, 3, 6, u64::MAX - 2],
                vec![1, 3, 6, u64::MAX - 1],
                vec![1, 3, 6, u64::MAX],
            ]
        );
        assert_eq!(getnext_asks(&base, &[1, 3, 6, u64::MAX], 16).len(), 1);
        assert_eq!(
            getnext_asks(&base, &base, 3).len(),
            3,
            "the column, rows 0 and 1"
        );
        assert_eq!(getnext_asks(&base, &base, 0).len(), 1);
        assert_eq!(getnext_asks(&base, &[1, 3, 6, 5, 2], 16).len(), 1);
    }
}

/// Most requests one walk may take.
const MAX_WALK_REQUESTS: u32 = 200;
/// Rows a v1 walk asks for ahead in one GET.
const SPECULATE: u32 = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetValue {
    Int(i64),
    Str(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A silent agent (a bound socket that never answers, so no ICMP refusal either):
    /// every try waits its whole timeout by the call's clock, then the client gives up.
    #[test]
    fn a_silent_agent_gets_each_try_its_timeout_by_the_calls_clock() {
        use crate::runtime::clock::{Clock, FakeClock, Waited};
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = silent.local_addr().unwrap();
        let cfg = Config {
            host: "127.0.0.1".into(),
            port: target.port(),
            version: Version::V2c,
            community: "private".into(),
            v3: None,
            timeout: Duration::from_secs(2),
            tries: 3,
        };
        let clock = FakeClock::shared();
        let t0 = std::time::Instant::now();
        let mut client = Client::connect(cfg, target, clock.clone()).unwrap();
        let err = client.get(&[1, 3, 6, 1, 2, 1, 1, 2, 0]).unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        assert_eq!(clock.waits(), [Waited::Blocked(Duration::from_secs(2)); 3]);
        assert_eq!(clock.elapsed(), Duration::from_secs(6));
        let SnmpError::Timeout(message) = err else {
            panic!("not a timeout: {err:?}");
        };
        assert!(message.contains("after 3 tries of 2.0 s"), "{message}");
    }

    fn target() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 161))
    }

    fn reply(oids: &[&[u64]]) -> Reply {
        Reply {
            error_status: 0,
            error_index: 0,
            varbinds: oids.iter().map(|o| (o.to_vec(), Value::Int(1))).collect(),
        }
    }

    /// Rows 1, 2, 5 and the next column (9.1): a v1 read-ahead from row 2 sees row 5
    /// three times, which is what an honest agent answers over a gap.
    #[test]
    fn getnext_answers_over_a_gap_are_accepted_and_skipped_rows_are_not() {
        let asked = vec![vec![1, 2, 2], vec![1, 2, 3], vec![1, 2, 4], vec![1, 2, 5]];
        let honest = reply(&[&[1, 2, 5], &[1, 2, 5], &[1, 2, 5], &[1, 9, 1]]);
        assert!(check_next(target(), &asked, &honest).is_ok());
        for bad in [
            reply(&[&[1, 2, 2], &[1, 2, 5], &[1, 2, 5], &[1, 9, 1]]), // not after the asked
            reply(&[&[1, 2, 5], &[1, 2, 4], &[1, 2, 5], &[1, 9, 1]]), // back
            reply(&[&[1, 2, 5], &[1, 2, 6], &[1, 2, 6], &[1, 9, 1]]), // row 5 then 6 for 3
            reply(&[&[1, 2, 5], &[1, 2, 5], &[1, 2, 5]]),             // one short
        ] {
            assert!(check_next(target(), &asked, &bad).is_err());
        }
    }

    #[test]
    fn getbulk_columns_move_forward_until_the_end_of_the_mib() {
        let asked = vec![vec![1, 2], vec![1, 4]];
        let mut end = reply(&[&[1, 2, 1], &[1, 4, 1], &[1, 4, 1], &[1, 9]]);
        end.varbinds[3].1 = Value::EndOfMibView;
        assert!(check_bulk(target(), &asked, 2, &end).is_ok());
        let swapped = reply(&[&[1, 4, 1], &[1, 2, 1]]);
        assert!(check_bulk(target(), &asked, 2, &swapped).is_err());
        let repeated = reply(&[&[1, 2, 1], &[1, 4, 1], &[1, 2, 1], &[1, 4, 2]]);
        assert!(check_bulk(target(), &asked, 2, &repeated).is_err());
        let too_many = reply(&[&[1, 2, 1], &[1, 4, 1], &[1, 2, 2], &[1, 4, 2]]);
        assert!(check_bulk(target(), &asked, 1, &too_many).is_err());
        assert!(check_bulk(target(), &asked, 2, &reply(&[])).is_err());
        let mut revived = end;
        revived
            .varbinds
            .extend(reply(&[&[1, 5], &[1, 9, 1]]).varbinds);
        assert!(check_bulk(target(), &asked, 3, &revived).is_err());
    }
}
