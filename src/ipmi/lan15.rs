//! IPMI 1.5 LAN sessions (IPMI 1.5 §6.12): Get Channel Authentication Capabilities,
//! Get Session Challenge, Activate Session. Each step returns the next state.

use std::time::Duration;

use crate::ipmi::crypto::{self, Secret};
use crate::ipmi::link::{Link, Verdict};
use crate::ipmi::session::{self, Kind, Session};
use crate::ipmi::wire::{self, Frame};
use crate::ipmi::{app, netfn, AuthType, Config, IpmiError, Privilege};

/// What Get Channel Authentication Capabilities told.
#[derive(Debug, Clone, Copy)]
pub struct AuthCaps {
    /// Bit n set: IPMI 1.5 authentication type n is enabled.
    pub types: u8,
    /// The BMC speaks IPMI 2.0 (RMCP+).
    pub ipmi2: bool,
    /// Per-message authentication is disabled: in-session answers may be unsigned.
    pub unsigned_replies: bool,
}

/// Ask the BMC what it supports; the first exchange of both session kinds, so it is also
/// where an unreachable BMC shows.
pub fn capabilities(
    link: &mut Link,
    ipmi2: bool,
    privilege: Privilege,
) -> Result<AuthCaps, IpmiError> {
    // Channel 0x0e is "this channel"; bit 7 asks for the IPMI 2.0 extended data.
    let channel = if ipmi2 { 0x8e } else { 0x0e };
    let r = session::presession(
        link,
        "Get Channel Authentication Capabilities",
        app::GET_CHANNEL_AUTH_CAPABILITIES,
        &[channel, privilege as u8],
    )?;
    if r.completion != 0 {
        return Err(IpmiError::Completion {
            command: "Get Channel Authentication Capabilities",
            code: r.completion,
        });
    }
    if r.data.len() < 8 {
        return Err(IpmiError::Protocol(
            "the BMC's authentication capabilities are too short".into(),
        ));
    }
    Ok(AuthCaps {
        types: r.data[1] & 0x3f,
        ipmi2: r.data[1] & 0x80 != 0 && r.data[3] & 0x02 != 0,
        unsigned_replies: r.data[2] & 0x10 != 0,
    })
}

/// The authentication type to use: the configured one if the BMC enables it, else the
/// strongest it enables.
fn choose(caps: &AuthCaps, wanted: Option<AuthType>) -> Result<AuthType, IpmiError> {
    let enabled = |t: AuthType| caps.types & (1 << t as u8) != 0;
    match wanted {
        Some(t) if enabled(t) => Ok(t),
        Some(t) => Err(IpmiError::Unsupported(format!(
            "the BMC does not enable IPMI 1.5 authentication type {} (it offers: {}); change auth",
            t.name(),
            offered(caps)
        ))),
        None => [AuthType::Md5, AuthType::Password, AuthType::None]
            .into_iter()
            .find(|t| enabled(*t))
            .ok_or_else(|| {
                IpmiError::Unsupported(format!(
                    "the BMC enables no IPMI 1.5 authentication type fencebox speaks (it offers: {}); try lanplus=1",
                    offered(caps)
                ))
            }),
    }
}

fn offered(caps: &AuthCaps) -> String {
    let names = [
        (0, "none"),
        (1, "md2"),
        (2, "md5"),
        (4, "password"),
        (5, "oem"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| caps.types & (1 << bit) != 0)
        .map(|(_, n)| *n)
        .collect();
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// After Get Session Challenge: a temporary session id and the challenge to sign.
pub struct Challenged {
    link: Link,
    auth: AuthType,
    unsigned_replies: bool,
    temp_sid: u32,
    challenge: [u8; 16],
}

/// Start an IPMI 1.5 session on `link` and raise it to the configured privilege.
pub fn connect(mut link: Link, cfg: &Config) -> Result<Session, IpmiError> {
    let caps = capabilities(&mut link, false, cfg.privilege)?;
    let auth = choose(&caps, cfg.auth)?;
    log_debug!(2, "IPMI 1.5: authentication type {}", auth.name());
    let clock = link.clock.clone();
    let asked = clock.elapsed();
    let challenged = challenge(link, cfg, auth, caps.unsigned_replies)?;
    let round_trip = clock.elapsed().saturating_sub(asked);
    let mut session = challenged.activate(cfg, round_trip)?;
    session.set_privilege(cfg.privilege)?;
    Ok(session)
}

fn user_field(user: &str) -> Result<[u8; 16], IpmiError> {
    crate::ipmi::check_user(user)?;
    Ok(*crypto::padded::<16>(user.as_bytes()))
}

fn challenge(
    mut link: Link,
    cfg: &Config,
    auth: AuthType,
    unsigned_replies: bool,
) -> Result<Challenged, IpmiError> {
    let mut data = vec![auth as u8];
    data.extend_from_slice(&user_field(&cfg.user)?);
    let r = session::presession(
        &mut link,
        "Get Session Challenge",
        app::GET_SESSION_CHALLENGE,
        &data,
    )?;
    match r.completion {
        0 if r.data.len() >= 20 => {}
        0 => {
            return Err(IpmiError::Protocol(
                "the session challenge is too short".into(),
            ))
        }
        0x81 | 0x82 => {
            return Err(IpmiError::UnknownUser(format!(
                "the BMC does not know the user '{}' (check username)",
                cfg.user
            )))
        }
        code => {
            return Err(IpmiError::Completion {
                command: "Get Session Challenge",
                code,
            })
        }
    }
    let temp_sid = u32::from_le_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]);
    let mut challenge = [0u8; 16];
    challenge.copy_from_slice(&r.data[4..20]);
    Ok(Challenged {
        link,
        auth,
        unsigned_replies,
        temp_sid,
        challenge,
    })
}

impl Challenged {
    /// Activate Session: the first signed message; the answer gives the session id and
    /// the sequence number to start from. A BMC silently drops an Activate Session whose
    /// code does not verify, so silence here means a wrong password far more often than
    /// a lost packet: the wait is scaled to the challenge's `round_trip` (20 times it, at
    /// least 0.5 s, at most ipmitool_timeout) and there are two tries, so a wrong password
    /// is reported in about a second, not after every retransmission.
    pub fn activate(mut self, cfg: &Config, round_trip: Duration) -> Result<Session, IpmiError> {
        let our_start =
            u32::from_le_bytes(crypto::random::<4>().map_err(|e| IpmiError::Io(e.to_string()))?)
                | 1;
        let password: Secret = cfg.password.clone();
        let packet = self.activation_packet(cfg.privilege, &password, our_start);
        let (completion, data) = self.send_activation(packet, round_trip)?;
        check_activation(completion, &data, cfg.privilege)?;
        let session_id = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
        let start = u32::from_le_bytes([data[5], data[6], data[7], data[8]]);
        log_debug!(2, "IPMI 1.5: session 0x{session_id:08x} active");
        Ok(Session::new(
            self.link,
            Kind::V15 {
                auth: self.auth,
                session_id,
                password,
                unsigned_replies: self.unsigned_replies,
            },
            start,
        ))
    }

    /// The Activate Session request, signed as the chosen authentication type asks.
    fn activation_packet(
        &self,
        privilege: Privilege,
        password: &Secret,
        our_start: u32,
    ) -> Vec<u8> {
        let mut data = vec![self.auth as u8, privilege as u8];
        data.extend_from_slice(&self.challenge);
        data.extend_from_slice(&our_start.to_le_bytes());
        let message = wire::request(netfn::APP, app::ACTIVATE_SESSION, 1, &data);
        let code = match self.auth {
            AuthType::None => None,
            AuthType::Password => Some(*crypto::padded::<16>(password)),
            AuthType::Md5 => Some(crypto::v15_md5(password, self.temp_sid, &message, 0)),
        };
        wire::frame_v15(self.auth as u8, 0, self.temp_sid, code.as_ref(), &message)
    }

    /// Send Activate Session with a short wait (a BMC drops one whose code does not
    /// verify, so waiting long would only delay the answer "wrong password"); the
    /// completion code and data of the answer.
    fn send_activation(
        &mut self,
        packet: Vec<u8>,
        round_trip: Duration,
    ) -> Result<(u8, Vec<u8>), IpmiError> {
        let temp_sid = self.temp_sid;
        let tries = self.link.tries.min(2);
        let full_wait = self.link.timeout;
        self.link.timeout = (round_trip * 20).clamp(
            Duration::from_millis(500),
            full_wait.max(Duration::from_millis(500)),
        );
        let r = self.link.exchange(
            "Activate Session",
            tries,
            |_| Ok(packet.clone()),
            |d| match wire::parse(d, 0) {
                Ok(Frame::V15(f)) if f.session_id == temp_sid || f.session_id == 0 => {
                    match wire::response(f.message) {
                        Ok(m) if m.cmd == app::ACTIVATE_SESSION && m.netfn == netfn::APP | 1 => {
                            Verdict::Accept((m.completion, m.data.to_vec()))
                        }
                        _ => Verdict::Skip("answers another request"),
                    }
                }
                _ => Verdict::Skip("not an answer to Activate Session"),
            },
        );
        self.link.timeout = full_wait;
        match r {
            // A BMC drops an Activate Session whose code does not verify.
            Err(IpmiError::Timeout(m)) if self.auth != AuthType::None => Err(IpmiError::AuthFailed(format!(
                "authentication failed: the BMC ignored the signed Activate Session (wrong password?); {m}"
            ))),
            other => other,
        }
    }
}

/// The Activate Session answer's completion code, as fencebox's errors.
fn check_activation(completion: u8, data: &[u8], privilege: Privilege) -> Result<(), IpmiError> {
    match completion {
        0 if data.len() >= 10 => Ok(()),
        0 => Err(IpmiError::Protocol(
            "the Activate Session answer is too short".into(),
        )),
        0x86 => Err(IpmiError::Privilege(format!(
            "the BMC does not allow this user the {} privilege level",
            privilege.name()
        ))),
        0x81..=0x83 => Err(IpmiError::Protocol(
            "the BMC has no free session slot; try again later".into(),
        )),
        code => Err(IpmiError::Completion {
            command: "Activate Session",
            code,
        }),
    }
}
