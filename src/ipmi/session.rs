//! An established IPMI session: every request gets the next sequence numbers, is
//! signed (and encrypted) as the session's algorithms say, and only answers that carry
//! this session's id, a valid code, a sequence number not seen before, and the
//! request's own rqSeq and command are taken.

use std::cell::Cell;

use crate::ipmi::crypto::{self, CipherSuite, Confidentiality, Integrity, Secret};
use crate::ipmi::link::{Link, Verdict};
use crate::ipmi::wire::{self, Frame};
use crate::ipmi::{app, netfn, AuthType, IpmiError, Privilege};

/// The session-specific half of a session.
pub enum Kind {
    V15 {
        auth: AuthType,
        session_id: u32,
        password: Secret,
        /// The BMC said it does not sign its messages (per-message authentication off).
        unsigned_replies: bool,
    },
    V20 {
        console_sid: u32,
        bmc_sid: u32,
        suite: CipherSuite,
        k1: Secret,
        k2: Secret,
        password: Secret,
    },
}

/// Sliding window over the BMC's session sequence numbers (IPMI 2.0 §6.12.13 asks for
/// at least 8 behind; 32 are kept): a number seen before, or too old, is a replay.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplayWindow {
    highest: Option<u32>,
    /// Bit i: highest - i has been seen.
    seen: u32,
}

impl ReplayWindow {
    /// Record `seq`; false when it is a replay or too far behind.
    pub fn accept(&mut self, seq: u32) -> bool {
        let Some(high) = self.highest else {
            self.highest = Some(seq);
            self.seen = 1;
            return true;
        };
        if seq == high {
            return false;
        }
        let ahead = seq.wrapping_sub(high);
        if ahead < 0x8000_0000 {
            self.seen = if ahead >= 32 { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = Some(seq);
            return true;
        }
        let behind = high.wrapping_sub(seq);
        if behind >= 32 || self.seen & (1 << behind) != 0 {
            return false;
        }
        self.seen |= 1 << behind;
        true
    }
}

/// A response's completion code and data.
pub struct Reply {
    pub completion: u8,
    pub data: Vec<u8>,
}

pub struct Session {
    pub(crate) link: Link,
    state: State,
    /// Where `command` sends its requests: the BMC, or a controller behind it.
    target: Option<u8>,
}

/// Everything but the socket, so that building and reading packets can share it while
/// the link runs the exchange.
struct State {
    kind: Kind,
    rq_seq: u8,
    out_seq: Cell<u32>,
    window: Cell<ReplayWindow>,
}

/// Match an IPMI response message to the request it answers.
fn matches(m: &wire::Response<'_>, req_netfn: u8, cmd: u8, rq_seq: u8) -> bool {
    m.netfn == req_netfn | 1 && m.cmd == cmd && m.rq_seq == rq_seq
}

/// A request outside any session (IPMI 1.5 framing, no authentication), as the first
/// messages of both session kinds are sent.
pub fn presession(
    link: &mut Link,
    what: &'static str,
    cmd: u8,
    data: &[u8],
) -> Result<Reply, IpmiError> {
    let tries = link.tries;
    link.exchange(
        what,
        tries,
        |attempt| {
            let rq_seq = (attempt % 63 + 1) as u8;
            Ok(wire::frame_v15(
                0,
                0,
                0,
                None,
                &wire::request(netfn::APP, cmd, rq_seq, data),
            ))
        },
        |d| match wire::parse(d, 0) {
            Ok(Frame::V15(f)) if f.session_id == 0 => match wire::response(f.message) {
                Ok(m) if m.netfn == netfn::APP | 1 && m.cmd == cmd => Verdict::Accept(Reply {
                    completion: m.completion,
                    data: m.data.to_vec(),
                }),
                Ok(_) => Verdict::Skip("answers another request"),
                Err(_) => Verdict::Skip("malformed IPMI message"),
            },
            Ok(_) => Verdict::Skip("not a session-less IPMI 1.5 answer"),
            Err(_) => Verdict::Skip("malformed packet"),
        },
    )
}

impl State {
    fn next_out_seq(&self) -> u32 {
        let mut seq = self.out_seq.get().wrapping_add(1);
        if seq == 0 {
            seq = 1;
        }
        self.out_seq.set(seq);
        seq
    }

    /// Wrap one IPMI message for this session.
    fn seal(&self, message: &[u8]) -> Result<Vec<u8>, IpmiError> {
        let seq = self.next_out_seq();
        match &self.kind {
            Kind::V15 {
                auth,
                session_id,
                password,
                ..
            } => {
                let code = match auth {
                    AuthType::None => None,
                    AuthType::Password => Some(*crypto::padded::<16>(password)),
                    AuthType::Md5 => Some(crypto::v15_md5(password, *session_id, message, seq)),
                };
                Ok(wire::frame_v15(
                    *auth as u8,
                    seq,
                    *session_id,
                    code.as_ref(),
                    message,
                ))
            }
            Kind::V20 {
                bmc_sid,
                suite,
                k1,
                k2,
                password,
                ..
            } => {
                let encrypted = suite.confidentiality == Confidentiality::AesCbc128;
                let payload = if encrypted {
                    let iv = crypto::random::<16>().map_err(|e| {
                        IpmiError::Io(format!("cannot read random bytes from the system: {e}"))
                    })?;
                    crypto::aes_encrypt(k2, &iv, message)
                } else {
                    message.to_vec()
                };
                let integrity = suite.integrity;
                let sign = |covered: &[u8]| integrity.icv(k1, password, covered);
                let code: Option<wire::Signer<'_>> =
                    (integrity != Integrity::None).then_some(&sign);
                Ok(wire::frame_v20(
                    wire::payload::IPMI,
                    encrypted,
                    *bmc_sid,
                    seq,
                    &payload,
                    code,
                ))
            }
        }
    }

    /// Open one datagram of this session: the IPMI message inside, verified and
    /// decrypted, and the BMC's sequence number; None (with the reason) if it is not
    /// an authentic message of this session.
    fn open(&self, d: &[u8]) -> Result<(Vec<u8>, u32), &'static str> {
        match &self.kind {
            Kind::V15 {
                auth,
                session_id,
                password,
                unsigned_replies,
            } => {
                let Ok(Frame::V15(f)) = wire::parse(d, 0) else {
                    return Err("not an IPMI 1.5 session packet");
                };
                if f.session_id != *session_id {
                    return Err("another session's id");
                }
                let authentic = match (f.auth_type, f.auth_code) {
                    (0, _) => *auth == AuthType::None || *unsigned_replies,
                    (t, Some(code)) if t == AuthType::Md5 as u8 && *auth == AuthType::Md5 => {
                        let want = crypto::v15_md5(password, f.session_id, f.message, f.seq);
                        constant_time_eq(&want, code)
                    }
                    (t, Some(code))
                        if t == AuthType::Password as u8 && *auth == AuthType::Password =>
                    {
                        constant_time_eq(&crypto::padded::<16>(password)[..], code)
                    }
                    _ => false,
                };
                if !authentic {
                    return Err("authentication code does not verify");
                }
                Ok((f.message.to_vec(), f.seq))
            }
            Kind::V20 {
                console_sid,
                suite,
                k1,
                k2,
                password,
                ..
            } => {
                let icv_len = suite.integrity.icv_len();
                let Ok(Frame::V20(f)) = wire::parse(d, icv_len) else {
                    return Err("not an RMCP+ session packet");
                };
                if f.session_id != *console_sid || f.payload_type != wire::payload::IPMI {
                    return Err("another session's id or payload");
                }
                if suite.integrity != Integrity::None {
                    let Some((covered, code)) = f.integrity else {
                        return Err("unsigned packet in a session with integrity");
                    };
                    let want = suite.integrity.icv(k1, password, covered);
                    if !constant_time_eq(&want, code) {
                        return Err("integrity code does not verify");
                    }
                }
                let message = match suite.confidentiality {
                    Confidentiality::AesCbc128 => {
                        if !f.encrypted {
                            return Err("clear payload in an encrypted session");
                        }
                        crypto::aes_decrypt(k2, f.payload).ok_or("payload does not decrypt")?
                    }
                    Confidentiality::None => f.payload.to_vec(),
                };
                Ok((message, f.seq))
            }
        }
    }

    /// The IPMI message in an authentic datagram of this session not seen before.
    fn fresh(&self, d: &[u8]) -> Result<Vec<u8>, &'static str> {
        let (message, seq) = self.open(d)?;
        let mut window = self.window.get();
        if !window.accept(seq) {
            return Err("replayed or stale sequence number");
        }
        self.window.set(window);
        Ok(message)
    }

    /// Take a datagram as the response to (netfn, cmd, rq_seq), or say why not.
    fn read(&self, d: &[u8], req_netfn: u8, cmd: u8, rq_seq: u8) -> Verdict<Reply> {
        let message = match self.fresh(d) {
            Ok(m) => m,
            Err(why) => return Verdict::Skip(why),
        };
        match wire::response(&message) {
            Ok(m) if matches(&m, req_netfn, cmd, rq_seq) => Verdict::Accept(Reply {
                completion: m.completion,
                data: m.data.to_vec(),
            }),
            Ok(_) => Verdict::Skip("answers another request"),
            Err(_) => Verdict::Skip("malformed IPMI message"),
        }
    }

    /// Take a datagram as (part of) the answer to a bridged request: the BMC first answers
    /// Send Message (a refusal ends the exchange), then passes on the target's response,
    /// as a message of its own or, on some BMCs, inside the Send Message answer.
    fn read_bridged(
        &self,
        d: &[u8],
        target: u8,
        req_netfn: u8,
        cmd: u8,
        rq_seq: u8,
    ) -> Verdict<Reply> {
        let message = match self.fresh(d) {
            Ok(m) => m,
            Err(why) => return Verdict::Skip(why),
        };
        let Ok(m) = wire::response(&message) else {
            return Verdict::Skip("malformed IPMI message");
        };
        let accept = |m: &wire::Response<'_>| {
            Verdict::Accept(Reply {
                completion: m.completion,
                data: m.data.to_vec(),
            })
        };
        if matches(&m, netfn::APP, app::SEND_MESSAGE, rq_seq) {
            if m.completion != 0 {
                let why = match m.completion {
                    0x80 => "invalid session handle",
                    0x81 => "lost arbitration on the IPMB",
                    0x82 => "IPMB bus error",
                    0x83 => "no controller acknowledged the address (NAK)",
                    _ => crate::ipmi::completion_text(m.completion),
                };
                return Verdict::Fail(IpmiError::Protocol(format!(
                    "the BMC could not pass the request on to IPMB address 0x{target:02x}: {why} (Send Message completion code 0x{:02x}); check target",
                    m.completion
                )));
            }
            return match wire::response(m.data) {
                Ok(inner) if matches(&inner, req_netfn, cmd, rq_seq) => accept(&inner),
                _ => Verdict::Skip("Send Message accepted; waiting for the target's answer"),
            };
        }
        if matches(&m, req_netfn, cmd, rq_seq) {
            return accept(&m);
        }
        Verdict::Skip("answers another request")
    }
}

impl Session {
    pub(crate) fn new(link: Link, kind: Kind, first_out_seq: u32) -> Self {
        Session {
            link,
            state: State {
                kind,
                rq_seq: 0,
                out_seq: Cell::new(first_out_seq.wrapping_sub(1)),
                window: Cell::new(ReplayWindow::default()),
            },
            target: None,
        }
    }

    /// Bridge every later `command` to the controller at IPMB address `target` (ipmitool
    /// -t), through Send Message on the primary IPMB with response tracking.
    pub fn bridge_to(&mut self, target: u8) {
        self.target = Some(target);
    }

    fn next_rq_seq(&mut self) -> u8 {
        let st = &mut self.state;
        st.rq_seq = st.rq_seq % 63 + 1;
        st.rq_seq
    }

    /// A request through Send Message to the bridge target (any completion code).
    fn bridged(
        &mut self,
        what: &'static str,
        target: u8,
        req_netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Reply, IpmiError> {
        let rq_seq = self.next_rq_seq();
        // Channel 0 (primary IPMB), bit 6: the BMC tracks the request and returns the answer.
        let mut send = vec![0x40];
        send.extend(wire::bridged(target, req_netfn, cmd, rq_seq, data));
        let message = wire::request(netfn::APP, app::SEND_MESSAGE, rq_seq, &send);
        self.exchange(what, &message, |st, d| {
            st.read_bridged(d, target, req_netfn, cmd, rq_seq)
        })
    }

    /// Send one sealed message per try until `read` takes an answer.
    fn exchange(
        &mut self,
        what: &'static str,
        message: &[u8],
        read: impl Fn(&State, &[u8]) -> Verdict<Reply>,
    ) -> Result<Reply, IpmiError> {
        let st = &self.state;
        let tries = self.link.tries;
        self.link
            .exchange(what, tries, |_| st.seal(message), |d| read(st, d))
    }

    /// Send one request and wait for its response (any completion code).
    pub fn request(
        &mut self,
        what: &'static str,
        req_netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Reply, IpmiError> {
        let rq_seq = self.next_rq_seq();
        let message = wire::request(req_netfn, cmd, rq_seq, data);
        self.exchange(what, &message, |st, d| st.read(d, req_netfn, cmd, rq_seq))
    }

    /// Send one request to the BMC, or to the bridge target when there is one; a
    /// non-zero completion code is an error.
    pub fn command(
        &mut self,
        what: &'static str,
        req_netfn: u8,
        cmd: u8,
        data: &[u8],
    ) -> Result<Vec<u8>, IpmiError> {
        let r = match self.target {
            Some(t) => self.bridged(what, t, req_netfn, cmd, data)?,
            None => self.request(what, req_netfn, cmd, data)?,
        };
        if r.completion != 0 {
            return Err(IpmiError::Completion {
                command: what,
                code: r.completion,
            });
        }
        Ok(r.data)
    }

    /// Close the session, one try: a BMC that does not answer frees it on its own timeout.
    pub fn close(mut self) {
        let id = match &self.state.kind {
            Kind::V15 { session_id, .. } => *session_id,
            Kind::V20 { bmc_sid, .. } => *bmc_sid,
        };
        self.link.tries = 1;
        match self.request(
            "Close Session",
            netfn::APP,
            app::CLOSE_SESSION,
            &id.to_le_bytes(),
        ) {
            Ok(r) if r.completion == 0 => log_debug!(2, "IPMI: session closed"),
            Ok(r) => log_debug!(2, "IPMI: Close Session answered 0x{:02x}", r.completion),
            Err(e) => log_debug!(2, "IPMI: Close Session: {e}"),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    /// Raise the session to the configured privilege (sessions start at user level).
    pub(crate) fn set_privilege(&mut self, privilege: Privilege) -> Result<(), IpmiError> {
        let r = self.request(
            "Set Session Privilege Level",
            netfn::APP,
            app::SET_SESSION_PRIVILEGE,
            &[privilege as u8],
        )?;
        match r.completion {
            0 => Ok(()),
            0x80 | 0x81 => Err(IpmiError::Privilege(format!(
                "the BMC does not allow this user the {} privilege level (try privlvl=operator)",
                privilege.name()
            ))),
            code => Err(IpmiError::Completion {
                command: "Set Session Privilege Level",
                code,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_plain_equality() {
        let code = [7u8; 16];
        assert!(constant_time_eq(&code, &[7u8; 16]));
        let mut first = code;
        first[0] ^= 1;
        let mut last = code;
        last[15] ^= 0x80;
        assert!(!constant_time_eq(&code, &first));
        assert!(!constant_time_eq(&code, &last));
        assert!(!constant_time_eq(&code, &code[..15]), "a shorter code");
        assert!(!constant_time_eq(&code, &[]));
    }

    #[test]
    fn replay_window_rejects_repeats_and_old_numbers() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(10));
        assert!(!w.accept(10), "same number twice");
        assert!(w.accept(12));
        assert!(w.accept(11), "late but unseen");
        assert!(!w.accept(11));
        assert!(w.accept(100));
        assert!(!w.accept(12), "too far behind");
        assert!(w.accept(90));
        assert!(!w.accept(90));
        // Wrapping past u32::MAX.
        let mut w = ReplayWindow::default();
        assert!(w.accept(u32::MAX - 1));
        assert!(w.accept(1));
        assert!(!w.accept(u32::MAX - 1));
        assert!(w.accept(u32::MAX));
    }
}
