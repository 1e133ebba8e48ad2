//! IPMI over LAN on the wire: the RMCP header, the IPMI 1.5 and IPMI 2.0 (RMCP+) session
//! wrappers, and IPMI LAN messages with their checksums. Pure functions over bytes, so
//! every byte a BMC sends goes through code that can be fuzzed on its own
//! (`fuzz/fuzz_targets/rmcp.rs`). Nothing here panics on any input.

use std::fmt;

/// RMCP header: version 1.0, reserved, sequence 0xff (no RMCP ACK), class IPMI.
pub const RMCP_IPMI: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
const RMCP_CLASS_IPMI: u8 = 0x07;
const RMCP_CLASS_ASF: u8 = 0x06;
/// The "authentication type" value that marks an IPMI 2.0 (RMCP+) session header.
pub const AUTH_RMCPPLUS: u8 = 0x06;
/// Next-header byte of an RMCP+ integrity trailer.
const NEXT_HEADER: u8 = 0x07;

/// BMC and software addresses on the IPMB as seen over LAN (the remote console is 0x81).
pub const BMC_ADDR: u8 = 0x20;
pub const CONSOLE_ADDR: u8 = 0x81;

/// RMCP+ payload types (IPMI 2.0 table 13-16).
pub mod payload {
    pub const IPMI: u8 = 0x00;
    pub const OPEN_SESSION_REQUEST: u8 = 0x10;
    pub const OPEN_SESSION_RESPONSE: u8 = 0x11;
    pub const RAKP1: u8 = 0x12;
    pub const RAKP2: u8 = 0x13;
    pub const RAKP3: u8 = 0x14;
    pub const RAKP4: u8 = 0x15;
}

/// Why a datagram could not be read. The variants name the field, for debug logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Short(&'static str),
    NotIpmi,
    BadLength(&'static str),
    BadTrailer(&'static str),
    Checksum,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Short(what) => write!(f, "packet too short for its {what}"),
            WireError::NotIpmi => f.write_str("not an RMCP IPMI packet"),
            WireError::BadLength(what) => write!(f, "inconsistent {what} length"),
            WireError::BadTrailer(what) => write!(f, "bad integrity trailer ({what})"),
            WireError::Checksum => f.write_str("IPMI message checksum mismatch"),
        }
    }
}

/// One datagram from a BMC, split into its parts (nothing verified but framing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    /// RMCP class ASF (presence pong); fencebox sends no pings, so these are ignored.
    Asf,
    V15(V15Frame<'a>),
    V20(V20Frame<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V15Frame<'a> {
    pub auth_type: u8,
    pub seq: u32,
    pub session_id: u32,
    pub auth_code: Option<&'a [u8]>,
    pub message: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V20Frame<'a> {
    pub payload_type: u8,
    pub encrypted: bool,
    pub authenticated: bool,
    pub session_id: u32,
    pub seq: u32,
    pub payload: &'a [u8],
    /// For authenticated frames: the bytes the integrity code covers (session header
    /// through next-header) and the code itself.
    pub integrity: Option<(&'a [u8], &'a [u8])>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Read one datagram. `icv_len` is the integrity code length of the session the frame
/// may belong to (0 before a session with integrity exists).
pub fn parse(datagram: &[u8], icv_len: usize) -> Result<Frame<'_>, WireError> {
    let rmcp = datagram.get(..4).ok_or(WireError::Short("RMCP header"))?;
    if rmcp[0] != 0x06 {
        return Err(WireError::NotIpmi);
    }
    match rmcp[3] & 0x1f {
        RMCP_CLASS_ASF => return Ok(Frame::Asf),
        RMCP_CLASS_IPMI => {}
        _ => return Err(WireError::NotIpmi),
    }
    let body = &datagram[4..];
    let auth_type = *body.first().ok_or(WireError::Short("session header"))?;
    if auth_type & 0x0f == AUTH_RMCPPLUS {
        parse_v20(body, icv_len).map(Frame::V20)
    } else {
        parse_v15(body).map(Frame::V15)
    }
}

fn parse_v15(body: &[u8]) -> Result<V15Frame<'_>, WireError> {
    let auth_type = body[0] & 0x0f;
    let seq = u32_at(body, 1).ok_or(WireError::Short("session header"))?;
    let session_id = u32_at(body, 5).ok_or(WireError::Short("session header"))?;
    let mut at = 9;
    let auth_code = if auth_type != 0 {
        let code = body
            .get(at..at + 16)
            .ok_or(WireError::Short("authentication code"))?;
        at += 16;
        Some(code)
    } else {
        None
    };
    let len = *body.get(at).ok_or(WireError::Short("message length"))? as usize;
    at += 1;
    // A trailing legacy pad byte may follow the message.
    let message = body
        .get(at..at + len)
        .ok_or(WireError::BadLength("IPMI 1.5 message"))?;
    Ok(V15Frame {
        auth_type,
        seq,
        session_id,
        auth_code,
        message,
    })
}

fn parse_v20(body: &[u8], icv_len: usize) -> Result<V20Frame<'_>, WireError> {
    let ptype = *body.get(1).ok_or(WireError::Short("session header"))?;
    let encrypted = ptype & 0x80 != 0;
    let authenticated = ptype & 0x40 != 0;
    let payload_type = ptype & 0x3f;
    // OEM payloads carry 6 more header bytes; fencebox never asks for them.
    if payload_type == 0x02 {
        return Err(WireError::NotIpmi);
    }
    let session_id = u32_at(body, 2).ok_or(WireError::Short("session header"))?;
    let seq = u32_at(body, 6).ok_or(WireError::Short("session header"))?;
    let len = body
        .get(10..12)
        .map(|l| u16::from_le_bytes([l[0], l[1]]) as usize)
        .ok_or(WireError::Short("session header"))?;
    let end = 12 + len;
    let payload = body
        .get(12..end)
        .ok_or(WireError::BadLength("RMCP+ payload"))?;
    let integrity = if authenticated {
        Some(trailer(body, end, icv_len)?)
    } else if body.len() != end {
        return Err(WireError::BadLength("RMCP+ packet"));
    } else {
        None
    };
    Ok(V20Frame {
        payload_type,
        encrypted,
        authenticated,
        session_id,
        seq,
        payload,
        integrity,
    })
}

/// The integrity trailer after a payload ending at `end`: pad (0-3 x 0xff) so that the
/// covered part is a multiple of 4, the pad length, next header, then the integrity code.
/// Returns (covered bytes, code).
fn trailer(body: &[u8], end: usize, icv_len: usize) -> Result<(&[u8], &[u8]), WireError> {
    let code_at = body
        .len()
        .checked_sub(icv_len)
        .ok_or(WireError::Short("integrity code"))?;
    if code_at < end + 2 {
        return Err(WireError::Short("integrity trailer"));
    }
    if body[code_at - 1] != NEXT_HEADER {
        return Err(WireError::BadTrailer("next header"));
    }
    let pad_len = body[code_at - 2] as usize;
    if pad_len > 3 || end + pad_len + 2 != code_at {
        return Err(WireError::BadTrailer("pad length"));
    }
    if body[end..end + pad_len].iter().any(|&b| b != 0xff) {
        return Err(WireError::BadTrailer("pad bytes"));
    }
    Ok((&body[..code_at], &body[code_at..]))
}

/// An IPMI 1.5 session packet. `auth_code` is the 16-byte code for auth types other
/// than none.
pub fn frame_v15(
    auth_type: u8,
    seq: u32,
    session_id: u32,
    auth_code: Option<&[u8; 16]>,
    message: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&RMCP_IPMI);
    p.push(auth_type);
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&session_id.to_le_bytes());
    if let Some(code) = auth_code {
        p.extend_from_slice(code);
    }
    p.push(message.len() as u8);
    p.extend_from_slice(message);
    // Some IPMI 1.5 BMCs mishandle packets of these total lengths; ipmitool and the
    // spec's LAN implementation notes add one pad byte to avoid them.
    if matches!(p.len(), 56 | 84 | 112 | 128 | 156) {
        p.push(0);
    }
    p
}

/// Computes an integrity code over the bytes it covers.
pub type Signer<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;

/// An IPMI 2.0 session packet. With `integrity`, the packet is marked authenticated and
/// gets the trailer and the code the closure computes over the covered bytes.
pub fn frame_v20(
    payload_type: u8,
    encrypted: bool,
    session_id: u32,
    seq: u32,
    payload: &[u8],
    integrity: Option<Signer<'_>>,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(payload.len() + 48);
    p.extend_from_slice(&RMCP_IPMI);
    let mut ptype = payload_type & 0x3f;
    if encrypted {
        ptype |= 0x80;
    }
    if integrity.is_some() {
        ptype |= 0x40;
    }
    p.push(AUTH_RMCPPLUS);
    p.push(ptype);
    p.extend_from_slice(&session_id.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    p.extend_from_slice(payload);
    if let Some(code) = integrity {
        // Covered: session header .. next header, a multiple of 4 bytes.
        let covered = p.len() - 4 + 2;
        let pad = (4 - covered % 4) % 4;
        p.extend(std::iter::repeat_n(0xff, pad));
        p.push(pad as u8);
        p.push(NEXT_HEADER);
        let icv = code(&p[4..]);
        p.extend_from_slice(&icv);
    }
    p
}

/// Two's-complement checksum: the byte that makes the sum of `bytes` and itself zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

/// An IPMI request message from the remote console to the BMC.
pub fn request(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    message(BMC_ADDR, CONSOLE_ADDR, netfn, cmd, rq_seq, data)
}

/// A request the BMC forwards on its IPMB to the controller at `target` (Send Message):
/// on the IPMB the BMC itself is the requester.
pub fn bridged(target: u8, netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    message(target, BMC_ADDR, netfn, cmd, rq_seq, data)
}

fn message(rs_addr: u8, rq_addr: u8, netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(data.len() + 7);
    m.push(rs_addr);
    m.push(netfn << 2);
    m.push(checksum(&m[..2]));
    m.push(rq_addr);
    m.push((rq_seq & 0x3f) << 2);
    m.push(cmd);
    m.extend_from_slice(data);
    m.push(checksum(&m[3..]));
    m
}

/// An IPMI response message, checksums verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    pub netfn: u8,
    pub rq_seq: u8,
    pub cmd: u8,
    pub completion: u8,
    pub data: &'a [u8],
}

pub fn response(m: &[u8]) -> Result<Response<'_>, WireError> {
    if m.len() < 8 {
        return Err(WireError::Short("IPMI response"));
    }
    if checksum(&m[..2]) != m[2] || checksum(&m[3..m.len() - 1]) != m[m.len() - 1] {
        return Err(WireError::Checksum);
    }
    Ok(Response {
        netfn: m[1] >> 2,
        rq_seq: m[4] >> 2,
        cmd: m[5],
        completion: m[6],
        data: &m[7..m.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksums_match_a_capture() {
        // Get Chassis Status, rqSeq 1, as ipmitool sends it (captures/ipmitool-lan15-md5-status).
        let m = request(0x00, 0x01, 1, &[]);
        assert_eq!(m, [0x20, 0x00, 0xe0, 0x81, 0x04, 0x01, 0x7a]);
    }

    #[test]
    fn v20_round_trip_with_integrity() {
        let code = |b: &[u8]| vec![b.len() as u8; 12];
        let p = frame_v20(
            payload::IPMI,
            true,
            0x1234,
            7,
            &[1, 2, 3, 4, 5],
            Some(&code),
        );
        assert_eq!((p.len() - 4 - 12) % 4, 0);
        let Frame::V20(f) = parse(&p, 12).expect("parses") else {
            panic!("not v20")
        };
        assert_eq!(f.payload, &[1, 2, 3, 4, 5]);
        assert!(f.encrypted && f.authenticated);
        assert_eq!((f.session_id, f.seq), (0x1234, 7));
        let (covered, icv) = f.integrity.expect("integrity");
        assert_eq!(icv, code(covered).as_slice());
    }

    #[test]
    fn v15_round_trip() {
        let msg = request(0x06, 0x38, 0, &[0x0e, 0x04]);
        let p = frame_v15(2, 9, 0xabcd, Some(&[7; 16]), &msg);
        let Frame::V15(f) = parse(&p, 0).expect("parses") else {
            panic!("not v15")
        };
        assert_eq!((f.auth_type, f.seq, f.session_id), (2, 9, 0xabcd));
        assert_eq!(f.auth_code, Some(&[7u8; 16][..]));
        assert_eq!(f.message, msg.as_slice());
    }

    #[test]
    fn truncations_and_corruptions_are_errors_not_panics() {
        let code = |_: &[u8]| vec![0xaa; 16];
        let p = frame_v20(payload::IPMI, false, 1, 2, &[9; 20], Some(&code));
        for cut in 0..p.len() {
            let _ = parse(&p[..cut], 16);
        }
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut q = p.clone();
                q[i] ^= 1 << bit;
                let _ = parse(&q, 16);
                if let Ok(Frame::V20(f)) = parse(&q, 16) {
                    let _ = response(f.payload);
                }
            }
        }
        assert!(response(&[0x81, 0x1c, 0x63, 0x20, 0x04, 0x38]).is_err());
    }
}
