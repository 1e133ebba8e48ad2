//! An in-process BMC for the hermetic tests: IPMI over LAN on a UDP port of 127.0.0.1,
//! served by one thread, with a power state, a log of chassis commands and knobs for
//! fault injection. It speaks IPMI 1.5 sessions (authentication none, straight password,
//! MD5) and IPMI 2.0 RMCP+ sessions (RAKP 1-4 with HMAC-SHA1, HMAC-MD5 or HMAC-SHA256,
//! integrity, AES-CBC-128) as the IPMI v2.0 specification describes them. Besides the
//! chassis commands it answers DCMI Get Power Reading (`BmcConfig::dcmi_watts`).
//!
//! The server side is written from the specification, not from fencebox's client: the
//! key exchange codes, the session keys (SIK, K1, K2), the integrity codes, AES-CBC with
//! its padding and the IPMI 1.5 authentication codes are computed here with the hash
//! and cipher primitives directly, so a mistake in the client's crypto shows as a failed
//! session instead of being mirrored. Only the byte framing (RMCP and session headers,
//! checksums) comes from `fencebox::ipmi::wire`.
//!
//! Faults: a wrong password fails as on a real BMC (RMCP+: the BMC's RAKP 2 code, keyed
//! by its own password, does not verify on the client side, and a wrong RAKP 3 code is
//! answered with status 0x0f; IPMI 1.5: an Activate Session whose code does not verify
//! is dropped in silence); "ignore power" accepts Chassis Control without changing the
//! state (a stuck relay); the next N datagrams can be dropped; answers can be delayed.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use fencebox::ipmi::wire::{self, payload, Frame};
use fencebox::ipmi::{app, netfn};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// IPMI 1.5 authentication types, as bits of `BmcConfig::v15_auth`.
pub const AUTH_NONE: u8 = 1 << 0;
pub const AUTH_MD5: u8 = 1 << 2;
pub const AUTH_PASSWORD: u8 = 1 << 4;

/// Privilege levels.
pub const USER: u8 = 2;
pub const OPERATOR: u8 = 3;
pub const ADMINISTRATOR: u8 = 4;

const GET_DEVICE_ID: u8 = 0x01;
const GET_CHASSIS_STATUS: u8 = 0x01;
const CHASSIS_CONTROL: u8 = 0x02;

/// DCMI (v1.5 §6.6.1): Get Power Reading, in the group-extension netfn, whose requests
/// and answers start with the DCMI group id.
const NETFN_GROUP_EXTENSION: u8 = 0x2c;
const DCMI_GROUP: u8 = 0xdc;
const DCMI_GET_POWER_READING: u8 = 0x02;

/// How long the server thread blocks in one read, so that it sees the stop flag.
const POLL: Duration = Duration::from_millis(20);

#[derive(Clone, Debug)]
pub struct BmcConfig {
    pub user: String,
    pub password: String,
    /// The BMC key; the password keys the SIK when it is not set.
    pub kg: Option<Vec<u8>>,
    /// Highest privilege level the user may have.
    pub max_privilege: u8,
    /// RMCP+ cipher suites accepted (the others are refused with status 0x11).
    pub suites: Vec<u8>,
    /// Whether the BMC says it speaks IPMI 2.0 at all.
    pub ipmi2: bool,
    /// IPMI 1.5 authentication types enabled (AUTH_* bits).
    pub v15_auth: u8,
    pub power_on: bool,
    /// DCMI Get Power Reading: None answers 0xC1 (invalid command), as a BMC without
    /// DCMI does; Some(w) reports w watts now and on average, w/2 least, 2w most, over
    /// a 1000 ms period, measurement active. The fake carries DCMI because OpenIPMI's
    /// ipmi_sim has no DCMI handler, so the interop tier cannot exercise it.
    pub dcmi_watts: Option<u16>,
}

impl Default for BmcConfig {
    fn default() -> Self {
        BmcConfig {
            user: "admin".into(),
            password: "password".into(),
            kg: None,
            max_privilege: ADMINISTRATOR,
            suites: vec![0, 1, 2, 3, 6, 7, 8, 15, 16, 17],
            ipmi2: true,
            v15_auth: AUTH_NONE | AUTH_MD5 | AUTH_PASSWORD,
            power_on: true,
            dcmi_watts: None,
        }
    }
}

/// What the test reads and changes while the BMC runs.
#[derive(Debug, Default)]
struct Shared {
    power: bool,
    /// Chassis Control requests received, by name, in order.
    commands: Vec<&'static str>,
    /// Notable decisions of the BMC (sessions made, refusals), for assertions.
    events: Vec<String>,
    ignore_power: bool,
    drop_next: usize,
    dropped: usize,
    received: usize,
    delay: Duration,
}

/// A running fake BMC; dropping it stops and joins its thread.
pub struct FakeBmc {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeBmc {
    /// A BMC with the default configuration: user admin, password "password", every
    /// authentication type, suites 0-3, 6-8 and 15-17, powered on.
    pub fn new() -> FakeBmc {
        FakeBmc::start(BmcConfig::default())
    }

    pub fn start(cfg: BmcConfig) -> FakeBmc {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind the fake BMC's socket");
        sock.set_read_timeout(Some(POLL))
            .expect("set a read timeout");
        let port = sock.local_addr().expect("the fake BMC's address").port();
        let shared = Arc::new(Mutex::new(Shared {
            power: cfg.power_on,
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let bmc = Bmc::new(cfg, shared.clone());
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve(sock, bmc, flag));
        FakeBmc {
            port,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    pub fn power_on(&self) -> bool {
        self.shared().power
    }

    /// Change the power state behind the BMC's back.
    pub fn set_power(&self, on: bool) {
        self.shared().power = on;
    }

    /// The Chassis Control requests received so far: "power down", "power up", "power
    /// cycle", "hard reset", "diag", "soft shutdown" (also those refused or ignored).
    pub fn commands(&self) -> Vec<&'static str> {
        self.shared().commands.clone()
    }

    /// What the BMC decided so far ("lanplus session: suite 17, ...", "refused ...").
    pub fn events(&self) -> Vec<String> {
        self.shared().events.clone()
    }

    /// Forget the chassis commands seen so far (the events stay).
    pub fn clear(&self) {
        self.shared().commands.clear();
    }

    /// A stuck relay: Chassis Control is acknowledged but the power state stays.
    pub fn set_ignore_power(&self, ignore: bool) {
        self.shared().ignore_power = ignore;
    }

    /// Drop the next `n` datagrams that arrive, unanswered.
    pub fn drop_next(&self, n: usize) {
        self.shared().drop_next = n;
    }

    /// Datagrams dropped by `drop_next` so far.
    pub fn dropped(&self) -> usize {
        self.shared().dropped
    }

    /// Datagrams received so far, dropped ones included.
    pub fn received(&self) -> usize {
        self.shared().received
    }

    /// Wait this long before sending each answer.
    pub fn set_delay(&self, delay: Duration) {
        self.shared().delay = delay;
    }
}

impl Default for FakeBmc {
    fn default() -> Self {
        FakeBmc::new()
    }
}

impl Drop for FakeBmc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A poisoned lock only means an assertion failed elsewhere; the data is still usable.
fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(sock: UdpSocket, mut bmc: Bmc, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let delay = {
            let mut s = lock(&bmc.shared);
            s.received += 1;
            if s.drop_next > 0 {
                s.drop_next -= 1;
                s.dropped += 1;
                continue;
            }
            s.delay
        };
        if let Some(reply) = bmc.handle(&buf[..n]) {
            std::thread::sleep(delay);
            let _ = sock.send_to(&reply, from);
        }
    }
}

// ---------------------------------------------------------------------------------
// Cryptography, from the IPMI v2.0 specification (§13.28-13.32, §22.17 for IPMI 1.5).

/// A cipher suite's algorithm numbers: (authentication, integrity, confidentiality).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Suite {
    id: u8,
    auth: u8,
    integrity: u8,
    conf: u8,
}

/// IPMI 2.0 table 22-20 (the suites this BMC can speak at all).
fn suite(id: u8) -> Option<Suite> {
    let (auth, integrity, conf) = match id {
        0 => (0, 0, 0),
        1 => (1, 0, 0),
        2 => (1, 1, 0),
        3 => (1, 1, 1),
        6 => (2, 0, 0),
        7 => (2, 2, 0),
        8 => (2, 2, 1),
        15 => (3, 0, 0),
        16 => (3, 4, 0),
        17 => (3, 4, 1),
        _ => return None,
    };
    Some(Suite {
        id,
        auth,
        integrity,
        conf,
    })
}

fn mac_with<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// HMAC by RAKP authentication algorithm number (1 SHA-1, 2 MD5, 3 SHA-256); empty for
/// RAKP-none.
fn hmac(auth: u8, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match auth {
        1 => mac_with::<Hmac<sha1::Sha1>>(key, parts),
        2 => mac_with::<Hmac<Md5>>(key, parts),
        3 => mac_with::<Hmac<sha2::Sha256>>(key, parts),
        _ => Vec::new(),
    }
}

/// Length of the RAKP 4 integrity check value: HMAC-SHA1 is cut to 96 bits, HMAC-SHA256
/// to 128, HMAC-MD5 is whole.
fn rakp4_len(auth: u8) -> usize {
    match auth {
        1 => 12,
        2 | 3 => 16,
        _ => 0,
    }
}

/// Integrity algorithm number -> (AuthCode length, RAKP algorithm of its HMAC).
fn integrity(alg: u8) -> (usize, u8) {
    match alg {
        1 => (12, 1),
        2 => (16, 2),
        4 => (16, 3),
        _ => (0, 0),
    }
}

/// The session keys. The specification's constants are 20 bytes of 0x01 (K1) and 0x02
/// (K2) whatever the HMAC (§13.32); ipmitool, FreeIPMI and pyghmi use 20 for SHA-256 too.
struct Keys {
    k1: Vec<u8>,
    k2: Vec<u8>,
}

fn keys(auth: u8, sik: &[u8]) -> Keys {
    Keys {
        k1: hmac(auth, sik, &[&[0x01; 20]]),
        k2: hmac(auth, sik, &[&[0x02; 20]]),
    }
}

type AesEnc = cbc::Encryptor<aes::Aes128>;
type AesDec = cbc::Decryptor<aes::Aes128>;

/// AES-CBC-128 keyed by the first 16 bytes of K2: IV, then the payload padded with
/// 1, 2, 3, ... and the pad length to whole blocks (§13.29).
fn encrypt(k2: &[u8], payload: &[u8]) -> Vec<u8> {
    let iv = fencebox::ipmi::crypto::random::<16>().expect("random bytes");
    let pad = (16 - (payload.len() + 1) % 16) % 16;
    let mut buf = payload.to_vec();
    buf.extend(1..=pad as u8);
    buf.push(pad as u8);
    let n = buf.len();
    AesEnc::new(k2[..16].into(), (&iv).into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, n)
        .expect("whole blocks");
    let mut out = iv.to_vec();
    out.extend_from_slice(&buf);
    out
}

fn decrypt(k2: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 32 || !data.len().is_multiple_of(16) {
        return None;
    }
    let (iv, body) = data.split_at(16);
    let mut buf = body.to_vec();
    let plain = AesDec::new(k2[..16].into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .ok()?;
    let pad = *plain.last()? as usize;
    let end = plain.len().checked_sub(pad + 1)?;
    let expected: Vec<u8> = (1..=pad as u8).collect();
    (plain[end..plain.len() - 1] == expected[..]).then(|| plain[..end].to_vec())
}

/// A secret as the zero-padded 16-byte field of IPMI 1.5.
fn field16(s: &[u8]) -> [u8; 16] {
    let mut f = [0u8; 16];
    let n = s.len().min(16);
    f[..n].copy_from_slice(&s[..n]);
    f
}

/// IPMI 1.5 AuthCode of a session message (§22.17.1): none, the password itself, or
/// MD5(password, session id, message, sequence number, password).
fn v15_code(auth: u8, password: &[u8], sid: u32, message: &[u8], seq: u32) -> Option<[u8; 16]> {
    let pw = field16(password);
    match auth {
        4 => Some(pw),
        2 => {
            let mut h = Md5::new();
            h.update(pw);
            h.update(sid.to_le_bytes());
            h.update(message);
            h.update(seq.to_le_bytes());
            h.update(pw);
            Some(h.finalize().into())
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------
// IPMI messages.

struct Request {
    rs_addr: u8,
    netfn: u8,
    rs_lun: u8,
    rq_addr: u8,
    rq_seq: u8,
    rq_lun: u8,
    cmd: u8,
    data: Vec<u8>,
}

fn parse_request(m: &[u8]) -> Option<Request> {
    if m.len() < 7
        || wire::checksum(&m[..2]) != m[2]
        || wire::checksum(&m[3..m.len() - 1]) != m[m.len() - 1]
    {
        return None;
    }
    Some(Request {
        rs_addr: m[0],
        netfn: m[1] >> 2,
        rs_lun: m[1] & 3,
        rq_addr: m[3],
        rq_seq: m[4] >> 2,
        rq_lun: m[4] & 3,
        cmd: m[5],
        data: m[6..m.len() - 1].to_vec(),
    })
}

/// The response message to `req`: addresses swapped, netfn + 1, the completion code first.
fn response(req: &Request, cc: u8, data: &[u8]) -> Vec<u8> {
    let mut m = vec![req.rq_addr, ((req.netfn | 1) << 2) | req.rq_lun];
    m.push(wire::checksum(&m));
    m.extend_from_slice(&[req.rs_addr, (req.rq_seq << 2) | req.rs_lun, req.cmd, cc]);
    m.extend_from_slice(data);
    m.push(wire::checksum(&m[3..]));
    m
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Privilege and id of an established session, for the commands run in it.
struct InSession {
    id: u32,
    privilege: u8,
    /// The most the session may be raised to (asked for at activation or in RAKP 1).
    max: u8,
}

/// Run one in-session command: (completion code, data, whether the session ends).
fn dispatch(
    cfg: &BmcConfig,
    shared: &Mutex<Shared>,
    s: &mut InSession,
    req: &Request,
) -> (u8, Vec<u8>, bool) {
    match (req.netfn, req.cmd) {
        (netfn::APP, app::GET_CHANNEL_AUTH_CAPABILITIES) => {
            let (cc, data) = auth_caps(cfg, req);
            (cc, data, false)
        }
        (netfn::APP, app::GET_CHANNEL_CIPHER_SUITES) => {
            let (cc, data) = cipher_suites(cfg, req);
            (cc, data, false)
        }
        (netfn::APP, app::SET_SESSION_PRIVILEGE) => {
            let Some(&level) = req.data.first() else {
                return (0xc7, vec![], false);
            };
            if level == 0 {
                return (0, vec![s.privilege], false);
            }
            if !(1..=5).contains(&level) {
                return (0xcc, vec![], false);
            }
            if level > s.max {
                return (0x81, vec![], false);
            }
            s.privilege = level;
            (0, vec![level], false)
        }
        (netfn::APP, app::CLOSE_SESSION) => match u32_at(&req.data, 0) {
            Some(id) if id == s.id => (0, vec![], true),
            _ => (0x87, vec![], false),
        },
        (netfn::APP, GET_DEVICE_ID) => (0, device_id(), false),
        (netfn::CHASSIS, GET_CHASSIS_STATUS) => {
            let on = lock(shared).power;
            // Current power state (bit 0: on), last power event, misc. chassis state.
            (0, vec![on as u8, 0, 0], false)
        }
        (netfn::CHASSIS, CHASSIS_CONTROL) if s.privilege < OPERATOR => (0xd4, vec![], false),
        (netfn::CHASSIS, CHASSIS_CONTROL) => (chassis_control(shared, &req.data), vec![], false),
        (NETFN_GROUP_EXTENSION, DCMI_GET_POWER_READING)
            if req.data.first() == Some(&DCMI_GROUP) =>
        {
            match cfg.dcmi_watts {
                Some(w) => (0, power_reading(w), false),
                None => (0xc1, vec![], false),
            }
        }
        _ => (0xc1, vec![], false),
    }
}

/// A DCMI Get Power Reading answer (after the completion code) for `w` watts: group id,
/// current, minimum, maximum, average (u16 LE each), timestamp (u32 LE), statistics
/// period in ms (u32 LE), state (bit 6: measurement active).
fn power_reading(w: u16) -> Vec<u8> {
    let mut d = vec![DCMI_GROUP];
    for watts in [w, w / 2, w.saturating_mul(2), w] {
        d.extend(watts.to_le_bytes());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() as u32);
    d.extend(now.to_le_bytes());
    d.extend(1000u32.to_le_bytes());
    d.push(0x40);
    d
}

/// Get Channel Authentication Capabilities (§22.13): channel 1, the enabled types,
/// non-null user names, per-message authentication on, IPMI 2.0 when asked for.
fn auth_caps(cfg: &BmcConfig, req: &Request) -> (u8, Vec<u8>) {
    let v2 = req.data.first().is_some_and(|c| c & 0x80 != 0) && cfg.ipmi2;
    let types = cfg.v15_auth & 0x3f | if v2 { 0x80 } else { 0 };
    let ext = if v2 { 0x03 } else { 0x00 };
    (0, vec![0x01, types, 0x04, ext, 0, 0, 0, 0])
}

/// Get Channel Cipher Suites (§22.15), listed by suite: 0xc0, id, then the algorithm
/// numbers tagged 0x00/0x40/0x80; 16 bytes of records per list index.
fn cipher_suites(cfg: &BmcConfig, req: &Request) -> (u8, Vec<u8>) {
    if !cfg.ipmi2 {
        return (0xc1, vec![]);
    }
    let index = req.data.get(2).map_or(0, |i| (i & 0x3f) as usize);
    let mut records = Vec::new();
    for s in cfg.suites.iter().filter_map(|&id| suite(id)) {
        records.extend_from_slice(&[0xc0, s.id, s.auth, 0x40 | s.integrity, 0x80 | s.conf]);
    }
    let mut data = vec![0x01];
    data.extend(records.iter().skip(index * 16).take(16));
    (0, data)
}

/// Get Device ID (§20.1): device 0x20 revision 1, firmware 1.0, IPMI 2.0, chassis
/// device, no manufacturer (0), product 0x4642.
fn device_id() -> Vec<u8> {
    vec![0x20, 0x01, 0x01, 0x00, 0x02, 0x80, 0, 0, 0, 0x42, 0x46]
}

fn chassis_control(shared: &Mutex<Shared>, data: &[u8]) -> u8 {
    let mut s = lock(shared);
    let Some(&what) = data.first() else {
        return 0xc7;
    };
    let (name, after): (&'static str, Option<bool>) = match what & 0x0f {
        0 => ("power down", Some(false)),
        1 => ("power up", Some(true)),
        2 => ("power cycle", None),
        3 => ("hard reset", None),
        4 => ("diag", None),
        5 => ("soft shutdown", Some(false)),
        _ => return 0xcc,
    };
    s.commands.push(name);
    // A cycle or reset needs the machine on, as on most BMCs.
    if matches!(what, 2 | 3) && !s.power {
        return 0xd5;
    }
    if let (Some(on), false) = (after, s.ignore_power) {
        s.power = on;
    }
    0
}

// ---------------------------------------------------------------------------------
// Sessions.

/// An IPMI 1.5 session, from Get Session Challenge on.
struct V15 {
    auth: u8,
    challenge: [u8; 16],
    active: Option<Active15>,
}

struct Active15 {
    s: InSession,
    /// The Activate Session answer, sent again if the request is repeated.
    answer: Vec<u8>,
    out_seq: u32,
    seen: HashSet<u32>,
}

/// An RMCP+ session, from Open Session on.
struct V20 {
    console_sid: u32,
    suite: Suite,
    rakp: Option<Rakp>,
    keys: Option<Keys>,
    s: InSession,
    out_seq: u32,
    seen: HashSet<u32>,
}

/// What RAKP 1 and 2 established.
struct Rakp {
    rm: [u8; 16],
    rc: [u8; 16],
    role: u8,
    user: Vec<u8>,
    answer: Vec<u8>,
}

struct Bmc {
    cfg: BmcConfig,
    shared: Arc<Mutex<Shared>>,
    guid: [u8; 16],
    next_sid: u32,
    v15: HashMap<u32, V15>,
    v20: HashMap<u32, V20>,
}

fn random16() -> [u8; 16] {
    fencebox::ipmi::crypto::random::<16>().expect("random bytes")
}

impl Bmc {
    fn new(cfg: BmcConfig, shared: Arc<Mutex<Shared>>) -> Bmc {
        Bmc {
            cfg,
            shared,
            guid: random16(),
            next_sid: 0x0200_0001,
            v15: HashMap::new(),
            v20: HashMap::new(),
        }
    }

    fn event(&self, what: String) {
        lock(&self.shared).events.push(what);
    }

    fn new_sid(&mut self) -> u32 {
        self.next_sid = self.next_sid.wrapping_add(0x101);
        self.next_sid
    }

    fn handle(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        if *d.get(4)? & 0x0f == wire::AUTH_RMCPPLUS {
            self.handle_v20(d)
        } else {
            self.handle_v15(d)
        }
    }

    // --- IPMI 1.5 ------------------------------------------------------------------

    fn handle_v15(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        let Ok(Frame::V15(f)) = wire::parse(d, 0) else {
            return None;
        };
        let req = parse_request(f.message)?;
        if f.session_id == 0 {
            let (cc, data) = self.sessionless(&req)?;
            return Some(wire::frame_v15(0, 0, 0, None, &response(&req, cc, &data)));
        }
        if (req.netfn, req.cmd) == (netfn::APP, app::ACTIVATE_SESSION) {
            return self.activate(&f, &req);
        }
        self.in_session_v15(&f, &req)
    }

    fn sessionless(&mut self, req: &Request) -> Option<(u8, Vec<u8>)> {
        match (req.netfn, req.cmd) {
            (netfn::APP, app::GET_CHANNEL_AUTH_CAPABILITIES) => Some(auth_caps(&self.cfg, req)),
            (netfn::APP, app::GET_SESSION_CHALLENGE) => Some(self.challenge(req)),
            (netfn::APP, GET_DEVICE_ID) => Some((0, device_id())),
            (netfn::APP, app::GET_CHANNEL_CIPHER_SUITES) => Some(cipher_suites(&self.cfg, req)),
            _ => None,
        }
    }

    /// Get Session Challenge (§22.16): a temporary session id and a random challenge.
    fn challenge(&mut self, req: &Request) -> (u8, Vec<u8>) {
        let (Some(&auth), Some(name)) = (req.data.first(), req.data.get(1..17)) else {
            return (0xc7, vec![]);
        };
        if !matches!(auth, 0 | 2 | 4) || self.cfg.v15_auth & (1 << auth) == 0 {
            return (0xcc, vec![]);
        }
        let name: Vec<u8> = name.iter().copied().take_while(|&b| b != 0).collect();
        if name != self.cfg.user.as_bytes() {
            self.event(format!(
                "challenge: unknown user {:?}",
                String::from_utf8_lossy(&name)
            ));
            return (0x81, vec![]);
        }
        let sid = self.new_sid();
        let challenge = random16();
        self.v15.insert(
            sid,
            V15 {
                auth,
                challenge,
                active: None,
            },
        );
        let mut data = sid.to_le_bytes().to_vec();
        data.extend_from_slice(&challenge);
        (0, data)
    }

    fn password(&self) -> Vec<u8> {
        self.cfg.password.as_bytes().to_vec()
    }

    /// Activate Session (§22.17): the first signed message. A code that does not verify
    /// or a wrong challenge gets no answer at all.
    fn activate(&mut self, f: &wire::V15Frame<'_>, req: &Request) -> Option<Vec<u8>> {
        let password = self.password();
        let max_privilege = self.cfg.max_privilege;
        let sess = self.v15.get_mut(&f.session_id)?;
        let expected = v15_code(sess.auth, &password, f.session_id, f.message, f.seq);
        let d = &req.data;
        if f.auth_type != sess.auth
            || f.auth_code.map(|c| c.to_vec()) != expected.map(|c| c.to_vec())
            || d.len() < 22
            || d[0] != sess.auth
            || d[2..18] != sess.challenge
        {
            lock(&self.shared)
                .events
                .push("activate: authentication code or challenge does not verify".into());
            return None;
        }
        if let Some(a) = &sess.active {
            return Some(a.answer.clone());
        }
        let (auth, sid) = (sess.auth, f.session_id);
        let requested = d[1] & 0x0f;
        let outbound = u32_at(d, 18)?;
        let (cc, data) = if requested > max_privilege || requested == 0 {
            (0x86, vec![])
        } else if outbound == 0 {
            (0xcc, vec![])
        } else {
            let inbound = u32::from_le_bytes(fencebox::ipmi::crypto::random::<4>().ok()?) | 1;
            let mut data = vec![auth];
            data.extend_from_slice(&sid.to_le_bytes());
            data.extend_from_slice(&inbound.to_le_bytes());
            data.push(requested);
            (0, data)
        };
        let message = response(req, cc, &data);
        let code = v15_code(auth, &password, sid, &message, 0);
        let answer = wire::frame_v15(auth, 0, sid, code.as_ref(), &message);
        if cc == 0 {
            sess.active = Some(Active15 {
                s: InSession {
                    id: sid,
                    privilege: requested.min(USER),
                    max: requested,
                },
                answer: answer.clone(),
                out_seq: outbound.wrapping_sub(1),
                seen: HashSet::new(),
            });
            let name = ["none", "", "md5", "", "password"][auth as usize];
            self.event(format!("lan session: auth {name}"));
        }
        Some(answer)
    }

    fn in_session_v15(&mut self, f: &wire::V15Frame<'_>, req: &Request) -> Option<Vec<u8>> {
        let password = self.password();
        let sess = self.v15.get_mut(&f.session_id)?;
        let auth = sess.auth;
        let a = sess.active.as_mut()?;
        let expected = v15_code(auth, &password, f.session_id, f.message, f.seq);
        if f.auth_type != auth || f.auth_code.map(|c| c.to_vec()) != expected.map(|c| c.to_vec()) {
            return None;
        }
        if !a.seen.insert(f.seq) {
            return None;
        }
        let (cc, data, close) = dispatch(&self.cfg, &self.shared, &mut a.s, req);
        a.out_seq = a.out_seq.wrapping_add(1);
        let seq = a.out_seq;
        let message = response(req, cc, &data);
        let code = v15_code(auth, &password, f.session_id, &message, seq);
        let answer = wire::frame_v15(auth, seq, f.session_id, code.as_ref(), &message);
        if close {
            self.v15.remove(&f.session_id);
            self.event("lan session closed".into());
        }
        Some(answer)
    }

    // --- IPMI 2.0 (RMCP+) ----------------------------------------------------------

    fn handle_v20(&mut self, d: &[u8]) -> Option<Vec<u8>> {
        let sid = u32_at(d, 6)?;
        let icv_len = self
            .v20
            .get(&sid)
            .filter(|s| s.keys.is_some())
            .map_or(0, |s| integrity(s.suite.integrity).0);
        let Ok(Frame::V20(f)) = wire::parse(d, icv_len) else {
            return None;
        };
        let unsigned = f.session_id == 0 && !f.authenticated && !f.encrypted;
        let answer = match f.payload_type {
            payload::OPEN_SESSION_REQUEST if unsigned => self.open_session(f.payload)?,
            payload::RAKP1 if unsigned => self.rakp1(f.payload)?,
            payload::RAKP3 if unsigned => self.rakp3(f.payload)?,
            payload::IPMI if f.session_id != 0 => return self.in_session_v20(&f),
            // Session-less commands may come in RMCP+ framing too (ipmitool does so).
            payload::IPMI if unsigned => {
                let req = parse_request(f.payload)?;
                let (cc, data) = self.sessionless(&req)?;
                Self::handshake(payload::IPMI, &response(&req, cc, &data))
            }
            _ => return None,
        };
        Some(answer)
    }

    /// An unsigned handshake answer outside any session.
    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        wire::frame_v20(kind, false, 0, 0, body, None)
    }

    /// Open Session (§13.17): accept the proposed algorithms if they form an accepted
    /// suite, else status 0x11 (no cipher suite match).
    fn open_session(&mut self, p: &[u8]) -> Option<Vec<u8>> {
        if p.len() < 32 || !self.cfg.ipmi2 {
            return None;
        }
        let (tag, console_sid) = (p[0], u32_at(p, 4)?);
        let proposed = (p[12], p[20], p[28]);
        let found = self
            .cfg
            .suites
            .iter()
            .filter_map(|&id| suite(id))
            .find(|s| (s.auth, s.integrity, s.conf) == proposed);
        let Some(suite) = found else {
            self.event(format!(
                "open session: refused algorithms {}/{}/{}",
                proposed.0, proposed.1, proposed.2
            ));
            let mut body = vec![tag, 0x11, 0, 0];
            body.extend_from_slice(&console_sid.to_le_bytes());
            return Some(Self::handshake(payload::OPEN_SESSION_RESPONSE, &body));
        };
        // A repeated request (its answer was lost) gets the same session.
        let existing = self
            .v20
            .iter()
            .find(|(_, s)| s.console_sid == console_sid && s.suite == suite && s.rakp.is_none())
            .map(|(id, _)| *id);
        let bmc_sid = match existing {
            Some(id) => id,
            None => self.new_sid(),
        };
        self.v20.entry(bmc_sid).or_insert(V20 {
            console_sid,
            suite,
            rakp: None,
            keys: None,
            s: InSession {
                id: bmc_sid,
                privilege: USER,
                max: USER,
            },
            out_seq: 0,
            seen: HashSet::new(),
        });
        let mut body = vec![tag, 0, self.cfg.max_privilege, 0];
        body.extend_from_slice(&console_sid.to_le_bytes());
        body.extend_from_slice(&bmc_sid.to_le_bytes());
        for (kind, alg) in [(0u8, suite.auth), (1, suite.integrity), (2, suite.conf)] {
            body.extend_from_slice(&[kind, 0, 0, 8, alg, 0, 0, 0]);
        }
        Some(Self::handshake(payload::OPEN_SESSION_RESPONSE, &body))
    }

    /// RAKP 1 -> 2 (§13.20, §13.31): the BMC's random and GUID, and its proof of the
    /// password: HMAC_Kuid(SIDm, SIDc, Rm, Rc, GUIDc, ROLEm, ULENGTHm, UNAMEm).
    fn rakp1(&mut self, p: &[u8]) -> Option<Vec<u8>> {
        let (tag, bmc_sid) = (*p.first()?, u32_at(p, 4)?);
        let rm: [u8; 16] = p.get(8..24)?.try_into().ok()?;
        let role = *p.get(24)?;
        let ulen = *p.get(27)? as usize;
        let user = p.get(28..28 + ulen)?.to_vec();
        let (password, cfg_user, max) = (
            self.password(),
            self.cfg.user.clone(),
            self.cfg.max_privilege,
        );
        let guid = self.guid;
        let sess = self.v20.get_mut(&bmc_sid)?;
        if sess.keys.is_some() {
            return None;
        }
        let refuse = |status: u8| {
            let mut body = vec![tag, status, 0, 0];
            body.extend_from_slice(&sess.console_sid.to_le_bytes());
            Some(Self::handshake(payload::RAKP2, &body))
        };
        if user != cfg_user.as_bytes() {
            lock(&self.shared).events.push(format!(
                "rakp 1: unknown user {:?}",
                String::from_utf8_lossy(&user)
            ));
            return refuse(0x0d);
        }
        if role & 0x0f > max || role & 0x0f == 0 {
            return refuse(0x09);
        }
        // A repeated RAKP 1 (its answer was lost) gets the same answer.
        if let Some(r) = sess.rakp.as_ref().filter(|r| r.rm == rm && r.role == role) {
            return Some(r.answer.clone());
        }
        let rc = random16();
        let code = hmac(
            sess.suite.auth,
            &password,
            &[
                &sess.console_sid.to_le_bytes(),
                &bmc_sid.to_le_bytes(),
                &rm,
                &rc,
                &guid,
                &[role, ulen as u8],
                &user,
            ],
        );
        let mut body = vec![tag, 0, 0, 0];
        body.extend_from_slice(&sess.console_sid.to_le_bytes());
        body.extend_from_slice(&rc);
        body.extend_from_slice(&guid);
        body.extend_from_slice(&code);
        let answer = Self::handshake(payload::RAKP2, &body);
        sess.rakp = Some(Rakp {
            rm,
            rc,
            role,
            user,
            answer: answer.clone(),
        });
        Some(answer)
    }

    /// RAKP 3 -> 4: check the console's proof, HMAC_Kuid(Rc, SIDm, ROLEm, ULENGTHm,
    /// UNAMEm) (status 0x0f if it is wrong), derive SIK = HMAC_Kg(Rm, Rc, ROLEm,
    /// ULENGTHm, UNAMEm) and K1, K2, and answer HMAC_SIK(Rm, SIDc, GUIDc), truncated.
    fn rakp3(&mut self, p: &[u8]) -> Option<Vec<u8>> {
        let (tag, status, bmc_sid) = (*p.first()?, *p.get(1)?, u32_at(p, 4)?);
        let password = self.password();
        let kg = self.cfg.kg.clone().unwrap_or_else(|| password.clone());
        let guid = self.guid;
        let sess = self.v20.get_mut(&bmc_sid)?;
        let r = sess.rakp.as_ref()?;
        let auth = sess.suite.auth;
        let mut body = vec![tag, 0, 0, 0];
        body.extend_from_slice(&sess.console_sid.to_le_bytes());
        let tail = [r.role, r.user.len() as u8];
        let expected = hmac(
            auth,
            &password,
            &[&r.rc, &sess.console_sid.to_le_bytes(), &tail, &r.user],
        );
        if status != 0 || p.get(8..)? != expected.as_slice() {
            body[1] = 0x0f;
            self.v20.remove(&bmc_sid);
            self.event("rakp 3: the console's key exchange code does not verify".into());
            return Some(Self::handshake(payload::RAKP4, &body));
        }
        let sik = hmac(auth, &kg, &[&r.rm, &r.rc, &tail, &r.user]);
        let mut icv = hmac(auth, &sik, &[&r.rm, &bmc_sid.to_le_bytes(), &guid]);
        icv.truncate(rakp4_len(auth));
        body.extend_from_slice(&icv);
        let max = r.role & 0x0f;
        sess.s.max = max;
        sess.s.privilege = max.min(USER);
        sess.keys = Some(keys(auth, &sik));
        let id = sess.suite.id;
        self.event(format!("lanplus session: suite {id}"));
        Some(Self::handshake(payload::RAKP4, &body))
    }

    /// A message in an established RMCP+ session: verified, decrypted, run, and the
    /// answer encrypted and signed as the suite says.
    fn in_session_v20(&mut self, f: &wire::V20Frame<'_>) -> Option<Vec<u8>> {
        let sess = self.v20.get_mut(&f.session_id)?;
        let k = sess.keys.as_ref()?;
        let suite = sess.suite;
        let (icv_len, icv_alg) = integrity(suite.integrity);
        if icv_len > 0 {
            let (covered, code) = f.integrity?;
            let mut want = hmac(icv_alg, &k.k1, &[covered]);
            want.truncate(icv_len);
            if want != code {
                return None;
            }
        } else if f.authenticated {
            return None;
        }
        let message = match (suite.conf, f.encrypted) {
            (1, true) => decrypt(&k.k2, f.payload)?,
            (0, false) => f.payload.to_vec(),
            _ => return None,
        };
        if !sess.seen.insert(f.seq) {
            return None;
        }
        let req = parse_request(&message)?;
        let (cc, data, close) = dispatch(&self.cfg, &self.shared, &mut sess.s, &req);
        let reply = response(&req, cc, &data);
        let body = if suite.conf == 1 {
            encrypt(&k.k2, &reply)
        } else {
            reply
        };
        sess.out_seq = sess.out_seq.wrapping_add(1);
        let k1 = k.k1.clone();
        let sign = move |covered: &[u8]| {
            let mut c = hmac(icv_alg, &k1, &[covered]);
            c.truncate(icv_len);
            c
        };
        let signer: Option<wire::Signer<'_>> = (icv_len > 0).then_some(&sign);
        let answer = wire::frame_v20(
            payload::IPMI,
            suite.conf == 1,
            sess.console_sid,
            sess.out_seq,
            &body,
            signer,
        );
        if close {
            self.v20.remove(&f.session_id);
            self.event("lanplus session closed".into());
        }
        Some(answer)
    }
}
