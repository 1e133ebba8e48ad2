//! Sending one SNMP request and receiving its answer.
//!
//! v1 and v2c requests are encoded here (BER for four PDU types is small) and answers are
//! decoded by snmp2; v3 goes through snmp2's session, which owns the USM security. The
//! reason for the split is cost: snmp2's session carries two 64 KiB arrays inline, and
//! building and moving it made page faults the largest part of a call's CPU. Our v1/v2c
//! session also waits past stray or garbled datagrams for the answer whose request-id
//! matches, instead of failing on the first packet that arrives, and keeps one request-id
//! over all tries of a request (as net-snmp does), so that a slow device's answer to the
//! first try still counts while the second try waits.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use snmp2::{MessageType, Oid, SyncSession};

use crate::runtime::clock::{Deadline, SharedClock};
use crate::runtime::net;
use crate::snmp::client::{SetValue, Value};

/// The reply of one request, owned: error status and varbinds.
pub struct Reply {
    pub error_status: u32,
    pub error_index: u32,
    pub varbinds: Vec<(Vec<u64>, Value)>,
}

pub fn own(pdu: snmp2::Pdu<'_>) -> Reply {
    Reply {
        error_status: pdu.error_status,
        error_index: pdu.error_index,
        varbinds: pdu
            .varbinds
            .map(|(o, v)| (oid_parts(&o), Value::from_snmp(&v)))
            .collect(),
    }
}

/// The arcs of an OID as the device encoded it (X.690 8.19, read in one pass); empty for
/// an encoding that is cut short or has an arc beyond 64 bits, which then matches nothing.
pub fn oid_parts(o: &Oid<'_>) -> Vec<u64> {
    decode_arcs(o.as_bytes()).unwrap_or_default()
}

/// A v1/v2c message decoded as an answer is (snmp2's parser, then `own`); for the fuzz
/// target, which has no socket.
#[doc(hidden)]
pub fn decode_message(bytes: &[u8]) -> Option<Reply> {
    snmp2::Pdu::from_bytes(bytes).ok().map(own)
}

/// The arcs of an OID's BER content (see `oid_parts`); None for a broken encoding.
#[doc(hidden)]
#[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
pub fn decode_arcs(bytes: &[u8]) -> Option<Vec<u64>> {
    let mut arcs = Vec::with_capacity(bytes.len().saturating_add(1));
    let mut value: u64 = 0;
    for &byte in bytes {
        // Seven more bits must fit: the top seven are still clear.
        if value.leading_zeros() < 7 {
            return None;
        }
        value = value << 7 | u64::from(byte & 0x7f);
        if byte & 0x80 != 0 {
            continue;
        }
        if arcs.is_empty() {
            // The first subidentifier holds the first two arcs: 40 * X + Y.
            let first = value.checked_div(40)?.min(2);
            arcs.extend([first, value.checked_sub(first.checked_mul(40)?)?]);
        } else {
            arcs.push(value);
        }
        value = 0;
    }
    if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    Some(arcs)
}

/// One request.
pub enum Request<'a> {
    Get(&'a [Vec<u64>]),
    /// One GETNEXT for each OID (v1 and v2c; v3 sends the first only).
    GetNext(&'a [Vec<u64>]),
    GetBulk(&'a [Vec<u64>], u32),
    /// One SET of every object given (several outlets switched in one request).
    Set(&'a [(Vec<u64>, SetValue)]),
}

pub enum Session {
    Community(CommunitySession),
    V3(Box<SyncSession>),
}

type SnmpResult<T> = std::result::Result<T, snmp2::Error>;

impl Session {
    pub fn send(&mut self, req: &Request<'_>) -> SnmpResult<Reply> {
        match self {
            Session::Community(c) => c.send(req),
            Session::V3(s) => send_v3(s, req),
        }
    }

    /// Start a new request: the tries that follow share its request-id (v1/v2c; snmp2's
    /// v3 session numbers every message itself).
    pub fn new_request(&mut self) {
        if let Session::Community(c) = self {
            c.id = c.next_id;
            c.next_id = c.next_id.wrapping_add(1);
        }
    }

    /// v3 engine discovery; nothing to do for v1/v2c.
    pub fn init(&mut self) -> SnmpResult<()> {
        match self {
            Session::Community(_) => Ok(()),
            Session::V3(s) => s.init(),
        }
    }
}

fn to_oids(oids: &[Vec<u64>]) -> SnmpResult<Vec<Oid<'static>>> {
    oids.iter()
        .map(|o| Oid::from(o.as_slice()).map_err(|_| snmp2::Error::AsnParse))
        .collect()
}

fn send_v3(s: &mut SyncSession, req: &Request<'_>) -> SnmpResult<Reply> {
    match req {
        Request::Get(oids) => {
            let o = to_oids(oids)?;
            let refs: Vec<&Oid<'_>> = o.iter().collect();
            s.get_many(&refs).map(own)
        }
        Request::GetNext(oids) => {
            let o = to_oids(&oids[..oids.len().min(1)])?;
            let first = o.first().ok_or(snmp2::Error::ValueOutOfRange)?;
            s.getnext(first).map(own)
        }
        Request::GetBulk(oids, reps) => {
            let o = to_oids(oids)?;
            let refs: Vec<&Oid<'_>> = o.iter().collect();
            s.getbulk(&refs, 0, *reps).map(own)
        }
        Request::Set(objects) => {
            let names: Vec<Vec<u64>> = objects.iter().map(|(o, _)| o.clone()).collect();
            let o = to_oids(&names)?;
            let binds: Vec<(&Oid<'_>, snmp2::Value<'_>)> = o
                .iter()
                .zip(objects.iter())
                .map(|(oid, (_, value))| {
                    let v = match value {
                        SetValue::Int(i) => snmp2::Value::Integer(*i),
                        SetValue::Str(t) => snmp2::Value::OctetString(t.as_bytes()),
                    };
                    (oid, v)
                })
                .collect();
            s.set(&binds).map(own)
        }
    }
}

/// A v1 or v2c session: a connected UDP socket and a community.
pub struct CommunitySession {
    socket: UdpSocket,
    v2c: bool,
    community: Vec<u8>,
    timeout: Duration,
    /// The call's clock: each try waits `timeout` by it.
    clock: SharedClock,
    /// The request-id of the request under way, sent by each of its tries.
    id: i32,
    next_id: i32,
    /// This session's receive buffer, allocated once per session (zeroed by the allocator
    /// as fresh pages: only the pages an answer fills are touched) and reused by every
    /// request, so sessions of concurrent calls share nothing.
    buf: Vec<u8>,
}

/// Sessions opened by this process, to spread their request-ids apart.
static SESSIONS: AtomicU32 = AtomicU32::new(0);

/// The largest UDP payload: an answer is never cut short, whatever the device sends.
const MAX_DATAGRAM: usize = 65_535;

impl CommunitySession {
    pub fn open(
        target: SocketAddr,
        v2c: bool,
        community: &[u8],
        timeout: Duration,
        clock: SharedClock,
    ) -> std::io::Result<Self> {
        let local: SocketAddr = if target.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        }
        .parse()
        .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        let socket = UdpSocket::bind(local)?;
        socket.connect(target)?;
        // Distinct per process and per session within it, so that an answer meant for an
        // earlier call or another session is ignored.
        // Kept positive and clear of i32::MAX: some agents mishandle negative ids.
        let spread = (std::process::id() % 100_000)
            .wrapping_mul(10_000)
            .wrapping_add(
                SESSIONS
                    .fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(1_000_003),
            );
        let first_id = 1 + (spread % 0x3fff_ffff) as i32;
        Ok(CommunitySession {
            socket,
            v2c,
            community: community.to_vec(),
            timeout,
            clock,
            id: first_id,
            next_id: first_id.wrapping_add(1),
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// One try of the current request: an answer to this try or an earlier one of the same
    /// request (the same request-id) is accepted until this try's timeout.
    fn send(&mut self, req: &Request<'_>) -> SnmpResult<Reply> {
        let id = self.id;
        let packet =
            encode(self.v2c, &self.community, id, req).ok_or(snmp2::Error::ValueOutOfRange)?;
        self.socket.send(&packet).map_err(|_| snmp2::Error::Send)?;
        let deadline = Deadline::after(&*self.clock, self.timeout);
        let mut garbled = false;
        let buf = self.buf.as_mut_slice();
        loop {
            let Some(left) = deadline.left(&*self.clock) else {
                // A peer that only ever sent garbage is reported as such, not as silent.
                return Err(if garbled {
                    snmp2::Error::AsnParse
                } else {
                    snmp2::Error::Receive
                });
            };
            let mut got = Ok(None);
            let socket = &self.socket;
            self.clock.block(left, &mut |wait| {
                got = net::recv_within(socket, buf, wait);
                !matches!(got, Ok(None))
            });
            let n = match got {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(_) => return Err(snmp2::Error::Receive), // ICMP unreachable: nobody there
            };
            match snmp2::Pdu::from_bytes(&buf[..n]) {
                Ok(pdu) if pdu.message_type == MessageType::Response && pdu.req_id == id => {
                    if pdu.community != self.community.as_slice() {
                        garbled = true;
                        continue;
                    }
                    return Ok(own(pdu));
                }
                Ok(_) => {} // an answer to something else: keep waiting
                Err(_) => garbled = true,
            }
        }
    }
}

// ---- BER for v1/v2c requests ----------------------------------------------------------

// Each element is written straight into its parent's buffer: a request of 16 varbinds
// used to cost some 300 small allocations, one per arc of every OID.

/// A BER length: short form below 128, else 0x80 | the count of big-endian bytes that
/// follow (X.690 8.1.3), as many as the length needs.
#[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn push_len(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short @ 0..=127) => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let long = bytes.get(skip..).unwrap_or_default();
            // At most size_of::<usize>() bytes, far below 127.
            out.push(0x80 | u8::try_from(long.len()).unwrap_or(0x7f));
            out.extend_from_slice(long);
        }
    }
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_len(out, content.len());
    out.extend_from_slice(content);
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    push_tlv(&mut out, tag, content);
    out
}

#[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn push_integer(out: &mut Vec<u8>, v: i64) {
    let bytes = v.to_be_bytes();
    // Drop leading bytes that only repeat the sign (the last byte always stays).
    let redundant = bytes
        .windows(2)
        .take_while(|w| match w {
            [b, next] => (*b == 0x00 && next & 0x80 == 0) || (*b == 0xff && next & 0x80 != 0),
            _ => false,
        })
        .count();
    push_tlv(out, 0x02, bytes.get(redundant..).unwrap_or(&bytes));
}

fn integer(v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    push_integer(&mut out, v);
    out
}

#[deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn push_object_id(out: &mut Vec<u8>, parts: &[u64]) -> Option<()> {
    let (&a, &b) = (parts.first()?, parts.get(1)?);
    if a > 2 || (a < 2 && b >= 40) {
        return None;
    }
    // The first two arcs share one subidentifier; 2.(u64::MAX - 79 and above) has none.
    let joined = a.checked_mul(40)?.checked_add(b)?;
    let mut content = Vec::with_capacity(parts.len().saturating_add(8));
    for arc in std::iter::once(joined).chain(parts.get(2..)?.iter().copied()) {
        // Base 128: groups are pushed least significant first, then put in order; every
        // group but the arc's last has the high bit set.
        let start = content.len();
        let mut rest = arc;
        loop {
            content.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        if let Some(groups) = content.get_mut(start..) {
            groups.reverse();
        }
        if let Some(last) = content.last_mut() {
            *last &= 0x7f;
        }
    }
    push_tlv(out, 0x06, &content);
    Some(())
}

#[cfg(test)]
fn object_id(parts: &[u64]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    push_object_id(&mut out, parts).map(|()| out)
}

/// The whole message of one request.
pub fn encode(v2c: bool, community: &[u8], id: i32, req: &Request<'_>) -> Option<Vec<u8>> {
    const NULL: [u8; 2] = [0x05, 0x00];
    let mut binds = Vec::new();
    let mut varbind = |oid: &[u64], value: &[u8]| -> Option<()> {
        let mut vb = Vec::with_capacity(oid.len() + 16 + value.len());
        push_object_id(&mut vb, oid)?;
        vb.extend_from_slice(value);
        push_tlv(&mut binds, 0x30, &vb);
        Some(())
    };
    let (tag, reps) = match req {
        Request::Get(_) => (0xa0, 0),
        Request::GetNext(_) => (0xa1, 0),
        // max-repetitions travels where error-index would.
        Request::GetBulk(_, reps) => (0xa5, i64::from(*reps)),
        Request::Set(..) => (0xa3, 0),
    };
    match req {
        Request::Get(oids) | Request::GetNext(oids) | Request::GetBulk(oids, _) => {
            for o in oids.iter() {
                varbind(o, &NULL)?;
            }
        }
        Request::Set(objects) => {
            for (oid, value) in objects.iter() {
                let v = match value {
                    SetValue::Int(i) => integer(*i),
                    SetValue::Str(s) => tlv(0x04, s.as_bytes()),
                };
                varbind(oid, &v)?;
            }
        }
    }
    let mut pdu = Vec::with_capacity(binds.len() + 24);
    push_integer(&mut pdu, i64::from(id));
    push_integer(&mut pdu, 0);
    push_integer(&mut pdu, reps);
    push_tlv(&mut pdu, 0x30, &binds);
    let mut msg = Vec::with_capacity(pdu.len() + community.len() + 12);
    push_integer(&mut msg, i64::from(v2c));
    push_tlv(&mut msg, 0x04, community);
    push_tlv(&mut msg, tag, &pdu);
    Some(tlv(0x30, &msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_read_back_in_one_pass() {
        let read = |bytes: &[u8]| oid_parts(&Oid::new(std::borrow::Cow::Borrowed(bytes)));
        for arcs in [
            vec![1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1, 2, 24],
            vec![0, 39, 127, 128, 16_383, 16_384],
            vec![2, 999, u64::MAX],
        ] {
            let ber = object_id(&arcs).unwrap();
            assert_eq!(read(&ber[2..]), arcs, "{ber:02x?}");
        }
        assert_eq!(read(&[0x2b, 0x86]), Vec::<u64>::new(), "cut short");
        let too_big = [
            0x2b, 0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(read(&too_big), Vec::<u64>::new(), "beyond 64 bits");
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(integer(0), vec![0x02, 0x01, 0x00]);
        assert_eq!(integer(127), vec![0x02, 0x01, 0x7f]);
        assert_eq!(integer(128), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(-1), vec![0x02, 0x01, 0xff]);
        assert_eq!(integer(-129), vec![0x02, 0x02, 0xff, 0x7f]);
        assert_eq!(integer(256), vec![0x02, 0x02, 0x01, 0x00]);
    }

    #[test]
    fn oids_use_base_128() {
        assert_eq!(
            object_id(&[1, 3, 6, 1, 4, 1, 318]),
            Some(vec![0x06, 0x07, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x3e])
        );
        assert_eq!(object_id(&[1]), None);
        assert_eq!(object_id(&[1, 40]), None);
    }

    fn len_of(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        push_len(&mut out, n);
        out
    }

    /// Lengths above 0xFFFF need three bytes or more: they used to be cut to their low
    /// 16 bits behind a 0x82, a valid-looking header for the wrong length.
    #[test]
    fn long_lengths_take_as_many_bytes_as_they_need() {
        assert_eq!(len_of(0), vec![0x00]);
        assert_eq!(len_of(127), vec![0x7f]);
        assert_eq!(len_of(128), vec![0x81, 0x80]);
        assert_eq!(len_of(0xff), vec![0x81, 0xff]);
        assert_eq!(len_of(0x100), vec![0x82, 0x01, 0x00]);
        assert_eq!(len_of(0xffff), vec![0x82, 0xff, 0xff]);
        assert_eq!(len_of(0x1_0000), vec![0x83, 0x01, 0x00, 0x00]);
        assert_eq!(len_of(70_000), vec![0x83, 0x01, 0x11, 0x70]);
        assert_eq!(
            len_of(usize::MAX),
            [vec![0x88], vec![0xff; 8]].concat(),
            "64-bit usize"
        );
        // A SET of a 70 000-byte string reads back whole.
        let oid = vec![1, 3, 6, 1, 4, 1, 99, 1];
        let v = SetValue::Str("x".repeat(70_000));
        let msg = encode(true, b"private", 5, &Request::Set(&[(oid, v)])).unwrap();
        assert_eq!(&msg[..4], &[0x30, 0x83, 0x01, 0x11], "three length bytes");
        let pdu = snmp2::Pdu::from_bytes(&msg).unwrap();
        let vals: Vec<Value> = pdu.varbinds.map(|(_, v)| Value::from_snmp(&v)).collect();
        assert_eq!(vals, vec![Value::Str(vec![b'x'; 70_000])]);
    }

    /// Arcs near u64::MAX: the first two share a subidentifier, which must not overflow;
    /// later ones take ten groups and read back.
    #[test]
    fn huge_arcs_encode_or_are_refused() {
        assert_eq!(object_id(&[2, u64::MAX]), None);
        let over = object_id(&[2, u64::MAX - 79, 5]);
        assert_eq!(over, None, "the shared subidentifier overflows");
        let arcs = vec![2, u64::MAX - 80, u64::MAX, 0, u64::MAX >> 1];
        let ber = object_id(&arcs).unwrap();
        assert_eq!(decode_arcs(&ber[2..]), Some(arcs));
        assert_eq!(decode_arcs(&[]), Some(vec![]));
        assert_eq!(decode_arcs(&[0x81]), None, "cut short");
        let eleven = [
            0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(decode_arcs(&eleven), None, "65 bits");
    }

    /// net-snmp's `snmpget -v1 -c public HOST .1.3.6.1.2.1.1.2.0` with request-id 1 is
    /// exactly these bytes; and snmp2 must read our message back as the same request.
    #[test]
    fn a_get_request_matches_net_snmp_bytes() {
        let oid = vec![1, 3, 6, 1, 2, 1, 1, 2, 0];
        let msg = encode(
            false,
            b"public",
            1,
            &Request::Get(std::slice::from_ref(&oid)),
        )
        .unwrap();
        let expected: Vec<u8> = vec![
            0x30, 0x26, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x02, 0x00, 0x05, 0x00,
        ];
        assert_eq!(msg, expected);
        let pdu = snmp2::Pdu::from_bytes(&msg).unwrap();
        assert_eq!(pdu.message_type, MessageType::GetRequest);
        assert_eq!(pdu.req_id, 1);
        assert_eq!(pdu.community, b"public");
        let binds: Vec<_> = pdu.varbinds.map(|(o, _)| oid_parts(&o)).collect();
        assert_eq!(binds, vec![oid]);
    }

    #[test]
    fn bulk_and_set_round_trip_through_snmp2() {
        let a = vec![1, 3, 6, 1, 4, 1, 318, 1, 1, 12, 3, 5, 1, 1, 2];
        let msg = encode(
            true,
            b"private",
            77,
            &Request::GetBulk(std::slice::from_ref(&a), 25),
        )
        .unwrap();
        let pdu = snmp2::Pdu::from_bytes(&msg).unwrap();
        assert_eq!(pdu.message_type, MessageType::GetBulkRequest);
        assert_eq!(
            (pdu.req_id, pdu.error_index),
            (77, 25),
            "max-repetitions travels as error-index"
        );
        let v = SetValue::Str("1,0,1".into());
        let msg = encode(true, b"private", 78, &Request::Set(&[(a.clone(), v)])).unwrap();
        let pdu = snmp2::Pdu::from_bytes(&msg).unwrap();
        assert_eq!(pdu.message_type, MessageType::SetRequest);
        let vals: Vec<Value> = pdu.varbinds.map(|(_, v)| Value::from_snmp(&v)).collect();
        assert_eq!(vals, vec![Value::Str(b"1,0,1".to_vec())]);
    }

    /// Device bytes reach snmp2's parser: random and mutated answers must be rejected
    /// without a panic (release builds abort on panic, which would skip exit code 1).
    #[test]
    fn the_parser_survives_garbage() {
        let good = encode(
            true,
            b"private",
            9,
            &Request::Get(&[vec![1, 3, 6, 1, 2, 1, 1, 2, 0]]),
        )
        .unwrap();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200_000u32 {
            let mut bytes = if round % 2 == 0 {
                good.clone()
            } else {
                (0..(next() % 96) as usize).map(|_| next() as u8).collect()
            };
            if !bytes.is_empty() {
                for _ in 0..=(next() % 4) {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
                if next() % 5 == 0 {
                    bytes.truncate((next() as usize) % bytes.len());
                }
            }
            let _ = snmp2::Pdu::from_bytes(&bytes).map(|p| p.varbinds.count());
        }
    }
}
