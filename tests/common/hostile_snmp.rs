//! A scriptable SNMP v1/v2c agent in the test process, for faults no real agent makes on
//! demand: answers about other objects, late answers, walks that go back, repeat, never
//! end or mix up their rows. Requests are read with snmp2; answers are written here in
//! plain BER, so a script can put anything in them.
//!
//! The agent holds a small APC Rack PDU (sysObjectID, outlet names and states, control
//! column) and answers honestly through `Mib::answer`; a script sees each request and
//! returns the answer to send (or none), usually the honest one with a twist.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use snmp2::{MessageType, Pdu};

pub const SYS_OBJECT_ID: &[u64] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
pub const APC_RPDU: &[u64] = &[1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 5];
pub const NAMES: &[u64] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1, 2];
pub const STATES: &[u64] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1, 4];
pub const CONTROL: &[u64] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 3, 1, 1, 4];
pub const ON: i64 = 1;
pub const OFF: i64 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Str(Vec<u8>),
    Oid(Vec<u64>),
    EndOfMibView,
}

/// One request as the agent received it.
#[derive(Debug, Clone)]
pub struct Req {
    pub kind: MessageType,
    pub v2c: bool,
    pub id: i32,
    pub oids: Vec<Vec<u64>>,
    /// GETBULK: max-repetitions.
    pub reps: u32,
    /// SET: the values, as ints (strings are not used by these tests).
    pub set: Vec<Option<i64>>,
    /// When it arrived.
    pub at: Instant,
    /// The community it came with.
    pub community: Vec<u8>,
}

/// One answer: its PDU fields and how long to hold it back.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub error_status: u32,
    pub error_index: u32,
    pub varbinds: Vec<(Vec<u64>, Val)>,
    pub delay: Duration,
}

/// The objects of the simulated PDU, in OID order.
pub struct Mib(pub BTreeMap<Vec<u64>, Val>);

pub fn at(column: &[u64], row: u64) -> Vec<u64> {
    [column, &[row]].concat()
}

impl Mib {
    /// An APC Rack PDU with `outlets` outlets named "Outlet N", in these states.
    pub fn apc_rpdu(states: &[i64]) -> Mib {
        let mut m = BTreeMap::new();
        m.insert(SYS_OBJECT_ID.to_vec(), Val::Oid(APC_RPDU.to_vec()));
        for (i, s) in states.iter().enumerate() {
            let n = i as u64 + 1;
            m.insert(at(NAMES, n), Val::Str(format!("Outlet {n}").into_bytes()));
            m.insert(at(STATES, n), Val::Int(*s));
            m.insert(at(CONTROL, n), Val::Int(*s));
        }
        Mib(m)
    }

    /// The first object after `oid`.
    pub fn next(&self, oid: &[u64]) -> Option<(Vec<u64>, Val)> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.0
            .range::<[u64], _>((Excluded(oid), Unbounded))
            .next()
            .map(|(o, v)| (o.clone(), v.clone()))
    }

    /// What an honest agent answers (and does: a SET of the control column switches the
    /// outlet).
    pub fn answer(&mut self, req: &Req) -> Answer {
        match req.kind {
            MessageType::GetRequest => self.get(req),
            MessageType::GetNextRequest => self.get_next(req),
            MessageType::GetBulkRequest => self.get_bulk(req),
            MessageType::SetRequest => self.set(req),
            _ => Answer::default(),
        }
    }

    fn no_such_name(req: &Req, i: usize) -> Answer {
        Answer {
            error_status: 2,
            error_index: i as u32 + 1,
            varbinds: req.oids.iter().map(|o| (o.clone(), Val::Int(0))).collect(),
            ..Answer::default()
        }
    }

    fn get(&self, req: &Req) -> Answer {
        let mut varbinds = Vec::new();
        for (i, o) in req.oids.iter().enumerate() {
            match self.0.get(o) {
                Some(v) => varbinds.push((o.clone(), v.clone())),
                None if !req.v2c => return Self::no_such_name(req, i),
                None => varbinds.push((o.clone(), Val::EndOfMibView)),
            }
        }
        Answer {
            varbinds,
            ..Answer::default()
        }
    }

    fn get_next(&self, req: &Req) -> Answer {
        let mut varbinds = Vec::new();
        for (i, o) in req.oids.iter().enumerate() {
            match self.next(o) {
                Some(vb) => varbinds.push(vb),
                None if !req.v2c => return Self::no_such_name(req, i),
                None => varbinds.push((o.clone(), Val::EndOfMibView)),
            }
        }
        Answer {
            varbinds,
            ..Answer::default()
        }
    }

    fn get_bulk(&self, req: &Req) -> Answer {
        let mut cursor = req.oids.clone();
        let mut varbinds = Vec::new();
        for _ in 0..req.reps.max(1) {
            for c in cursor.iter_mut() {
                match self.next(c) {
                    Some((o, v)) => {
                        c.clone_from(&o);
                        varbinds.push((o, v));
                    }
                    None => varbinds.push((c.clone(), Val::EndOfMibView)),
                }
            }
        }
        Answer {
            varbinds,
            ..Answer::default()
        }
    }

    fn set(&mut self, req: &Req) -> Answer {
        for (o, v) in req.oids.iter().zip(&req.set) {
            if let (Some(n), true) = (v, o.starts_with(CONTROL) && self.0.contains_key(o)) {
                let row = o[CONTROL.len()..].to_vec();
                self.0.insert(o.clone(), Val::Int(*n));
                self.0.insert([STATES, &row].concat(), Val::Int(*n));
            }
        }
        Answer {
            varbinds: req
                .oids
                .iter()
                .zip(&req.set)
                .map(|(o, v)| (o.clone(), Val::Int(v.unwrap_or(0))))
                .collect(),
            ..Answer::default()
        }
    }
}

type Script = Box<dyn FnMut(&Req, &mut Mib) -> Option<Answer> + Send>;

/// The running agent; stops when dropped.
pub struct Hostile {
    pub port: u16,
    /// Every request received, in order.
    pub log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Serve `mib` on 127.0.0.1 (any community), answering what `script` returns.
    pub fn start(
        mib: Mib,
        script: impl FnMut(&Req, &mut Mib) -> Option<Answer> + Send + 'static,
    ) -> Hostile {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(socket, mib, Box::new(script), l, s));
        Hostile {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// The fake PDU of the hermetic tests: the same agent, always honest, to any
    /// community.
    pub fn honest(states: &[i64]) -> Hostile {
        Hostile::start(Mib::apc_rpdu(states), |req, mib| Some(mib.answer(req)))
    }

    /// The honest agent behind one community: like a real agent, it drops a request
    /// with any other (no answer at all, so the client can only time out).
    pub fn honest_for(states: &[i64], community: &str) -> Hostile {
        let community = community.as_bytes().to_vec();
        Hostile::start(Mib::apc_rpdu(states), move |req, mib| {
            (req.community == community).then(|| mib.answer(req))
        })
    }

    pub fn port(&self) -> String {
        self.port.to_string()
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    socket: UdpSocket,
    mut mib: Mib,
    mut script: Script,
    log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
) {
    let mut pending: Vec<(Instant, Vec<u8>, SocketAddr)> = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        pending.retain(|(due, bytes, to)| {
            if *due <= now {
                let _ = socket.send_to(bytes, to);
                false
            } else {
                true
            }
        });
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some((req, community)) = parse(&buf[..n]) else {
            continue;
        };
        log.lock().unwrap().push(req.clone());
        if let Some(a) = script(&req, &mut mib) {
            let bytes = encode(&req, &community, &a);
            pending.push((req.at + a.delay, bytes, from));
        }
    }
}

fn parse(bytes: &[u8]) -> Option<(Req, Vec<u8>)> {
    let pdu = Pdu::from_bytes(bytes).ok()?;
    let v2c = matches!(pdu.version().ok()?, snmp2::Version::V2C);
    let mut oids = Vec::new();
    let mut set = Vec::new();
    for (o, v) in pdu.varbinds.clone() {
        oids.push(o.iter()?.collect::<Vec<u64>>());
        set.push(match v {
            snmp2::Value::Integer(i) => Some(i),
            _ => None,
        });
    }
    let req = Req {
        kind: pdu.message_type,
        v2c,
        id: pdu.req_id,
        oids,
        reps: pdu.error_index,
        set,
        at: Instant::now(),
        community: pdu.community.to_vec(),
    };
    Some((req, pdu.community.to_vec()))
}

// ---- BER for answers ------------------------------------------------------------------

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = body.len();
    match len {
        0..=127 => out.push(len as u8),
        128..=255 => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(body);
    out
}

fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    for arc in std::iter::once(arcs[0] * 40 + arcs[1]).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    tlv(0x06, &body)
}

fn value(v: &Val) -> Vec<u8> {
    match v {
        Val::Int(i) => int(*i),
        Val::Str(s) => tlv(0x04, s),
        Val::Oid(o) => oid(o),
        Val::EndOfMibView => vec![0x82, 0x00],
    }
}

fn encode(req: &Req, community: &[u8], a: &Answer) -> Vec<u8> {
    let mut binds = Vec::new();
    for (o, v) in &a.varbinds {
        binds.extend(tlv(0x30, &[oid(o), value(v)].concat()));
    }
    let pdu = [
        int(i64::from(req.id)),
        int(i64::from(a.error_status)),
        int(i64::from(a.error_index)),
        tlv(0x30, &binds),
    ]
    .concat();
    let msg = [
        int(i64::from(req.v2c)),
        tlv(0x04, community),
        tlv(0xa2, &pdu),
    ]
    .concat();
    tlv(0x30, &msg)
}
