//! IPMI 2.0 RMCP+ session establishment (IPMI 2.0 §13.15-13.20): Open Session, then the
//! RAKP 1-4 key exchange, then Set Session Privilege Level. Each state consumes the one
//! before, so a session cannot be used before its keys exist.

use crate::ipmi::crypto::{self, CipherSuite, Exchange, Secret};
use crate::ipmi::lan15;
use crate::ipmi::link::{Link, Verdict};
use crate::ipmi::session::{Kind, Session};
use crate::ipmi::wire::{self, payload, Frame};
use crate::ipmi::{Config, IpmiError};

/// The BMC answered Get Channel Authentication Capabilities and speaks IPMI 2.0.
pub struct Discovered {
    link: Link,
}

/// Open Session succeeded: both session ids are known, no key yet.
pub struct Opened {
    link: Link,
    suite: CipherSuite,
    console_sid: u32,
    bmc_sid: u32,
}

/// RAKP status codes (IPMI 2.0 table 13-15) as errors.
fn rakp_status(step: &str, code: u8, cfg: &Config) -> IpmiError {
    let user = &cfg.user;
    match code {
        0x04..=0x07 | 0x10 | 0x11 => IpmiError::Unsupported(format!(
            "the BMC refused the cipher suite ({step} status 0x{code:02x}); choose another with cipher="
        )),
        0x09..=0x0b => IpmiError::Privilege(format!(
            "the BMC does not allow user '{user}' the {} privilege level ({step} status 0x{code:02x}); try privlvl=operator",
            cfg.privilege.name()
        )),
        0x0c | 0x0d => IpmiError::UnknownUser(format!(
            "the BMC does not know the user '{user}' ({step} status 0x{code:02x}); check username"
        )),
        0x0f => IpmiError::AuthFailed(format!(
            "authentication failed: the BMC rejected fencebox's key exchange code ({step}); check password and hexadecimal_kg"
        )),
        0x01 => IpmiError::Protocol(format!(
            "the BMC has no resources for another session ({step} status 0x01); try again later"
        )),
        _ => IpmiError::Protocol(format!("the BMC refused the session ({step} status 0x{code:02x})")),
    }
}

/// One handshake message and its answer: the answer must be an unsigned RMCP+ packet of
/// `want` type outside any session, carrying our tag.
fn handshake(
    link: &mut Link,
    what: &'static str,
    send_type: u8,
    want: u8,
    tag: u8,
    body: &[u8],
) -> Result<Vec<u8>, IpmiError> {
    let packet = wire::frame_v20(send_type, false, 0, 0, body, None);
    let tries = link.tries;
    link.exchange(
        what,
        tries,
        |_| Ok(packet.clone()),
        |d| match wire::parse(d, 0) {
            Ok(Frame::V20(f)) if f.payload_type == want && f.session_id == 0 => {
                // A refusal may carry only the tag and the status.
                if f.payload.len() < 2 {
                    Verdict::Skip("handshake answer too short")
                } else if f.payload[0] != tag {
                    Verdict::Skip("handshake answer with another tag")
                } else {
                    Verdict::Accept(f.payload.to_vec())
                }
            }
            Ok(_) => Verdict::Skip("not the expected handshake message"),
            Err(_) => Verdict::Skip("malformed packet"),
        },
    )
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

/// Start an RMCP+ session on `link`: the configured cipher suite, or the strongest the
/// BMC accepts (tried in `crypto::PREFERENCE` order: each refusal costs one round trip,
/// where asking Get Channel Cipher Suites first can stall on BMCs that ignore it).
pub fn connect(mut link: Link, cfg: &Config) -> Result<Session, IpmiError> {
    let caps = lan15::capabilities(&mut link, true, cfg.privilege)?;
    if !caps.ipmi2 {
        return Err(IpmiError::Unsupported(
            "the BMC does not speak IPMI 2.0 (RMCP+); use lanplus=0".into(),
        ));
    }
    let candidates: Vec<u8> = match cfg.cipher {
        Some(c) => vec![c],
        None => crypto::PREFERENCE.to_vec(),
    };
    let mut discovered = Discovered { link };
    let mut refused = Vec::new();
    for (i, id) in candidates.iter().enumerate() {
        let Some(suite) = crypto::suite(*id) else {
            return Err(IpmiError::Unsupported(format!(
                "fencebox does not speak cipher suite {id}; use one of 0-3, 6-8, 11, 12, 15-17"
            )));
        };
        match discovered.open_session(suite, cfg) {
            Ok(opened) => {
                log_debug!(2, "IPMI 2.0: cipher suite {id}");
                return opened.authenticate(cfg);
            }
            Err((back, IpmiError::Unsupported(why))) if i + 1 < candidates.len() => {
                log_debug!(2, "IPMI 2.0: cipher suite {id} refused: {why}");
                refused.push(*id);
                discovered = back;
            }
            Err((mut back, IpmiError::Unsupported(_))) if cfg.cipher.is_none() => {
                refused.push(*id);
                let offered = match offered_suites(&mut back.link) {
                    Some(ids) => format!("it lists {ids:?}"),
                    None => "it does not list its suites".into(),
                };
                return Err(IpmiError::Unsupported(format!(
                    "the BMC accepts none of the cipher suites fencebox speaks (tried {refused:?}; {offered})"
                )));
            }
            Err((_, e)) => return Err(e),
        }
    }
    Err(IpmiError::Unsupported("no cipher suite to try".into()))
}

impl Discovered {
    /// Open Session Request for `suite`. A refusal gives the state back, so the next
    /// suite can be tried.
    pub fn open_session(
        mut self,
        suite: CipherSuite,
        cfg: &Config,
    ) -> Result<Opened, (Discovered, IpmiError)> {
        let console_sid = match crypto::random::<4>() {
            Ok(b) => u32::from_le_bytes(b) | 1,
            Err(e) => return Err((self, IpmiError::Io(e.to_string()))),
        };
        let tag = 0;
        let mut body = vec![tag, 0, 0, 0];
        body.extend_from_slice(&console_sid.to_le_bytes());
        for (kind, alg) in [
            (0u8, suite.auth.code()),
            (1, suite.integrity.code()),
            (2, suite.confidentiality.code()),
        ] {
            body.extend_from_slice(&[kind, 0, 0, 8, alg, 0, 0, 0]);
        }
        let r = match handshake(
            &mut self.link,
            "Open Session Request",
            payload::OPEN_SESSION_REQUEST,
            payload::OPEN_SESSION_RESPONSE,
            tag,
            &body,
        ) {
            Ok(r) => r,
            Err(e) => return Err((self, e)),
        };
        if r[1] != 0 {
            let e = rakp_status("Open Session", r[1], cfg);
            return Err((self, e));
        }
        if r.len() < 36 || u32_at(&r, 4) != console_sid {
            return Err((
                self,
                IpmiError::Protocol("malformed Open Session Response".into()),
            ));
        }
        // Some BMCs answer with the algorithms they prefer instead of refusing.
        let (a, i, c) = (r[16], r[24], r[32]);
        if (a, i, c)
            != (
                suite.auth.code(),
                suite.integrity.code(),
                suite.confidentiality.code(),
            )
        {
            return Err((
                self,
                IpmiError::Unsupported(format!(
                    "the BMC answered cipher suite {} with algorithms {a}/{i}/{c}",
                    suite.id
                )),
            ));
        }
        // The granted maximum privilege (r[2]) is not checked: ipmi_sim always says 0;
        // RAKP and Set Session Privilege Level decide.
        Ok(Opened {
            link: self.link,
            suite,
            console_sid,
            bmc_sid: u32_at(&r, 8),
        })
    }
}

impl Opened {
    /// RAKP 1-4: prove both sides know the password, derive the keys, then raise the
    /// session's privilege.
    pub fn authenticate(mut self, cfg: &Config) -> Result<Session, IpmiError> {
        crate::ipmi::check_user(&cfg.user)?;
        let ex = self.rakp_1_2(cfg)?;
        let sik = self.rakp_3_4(cfg, &ex)?;
        let (k1, k2) = crypto::session_keys(self.suite.auth, &sik);
        log_debug!(2, "IPMI 2.0: session 0x{:08x} established", self.bmc_sid);
        let mut session = Session::new(
            self.link,
            Kind::V20 {
                console_sid: self.console_sid,
                bmc_sid: self.bmc_sid,
                suite: self.suite,
                k1,
                k2,
                password: cfg.password.clone(),
            },
            1,
        );
        session.set_privilege(cfg.privilege)?;
        Ok(session)
    }

    /// RAKP 1 and 2: exchange random numbers and check the BMC's proof that it knows the
    /// password.
    fn rakp_1_2(&mut self, cfg: &Config) -> Result<Exchange, IpmiError> {
        let user = cfg.user.as_bytes();
        let console_rand = crypto::random::<16>().map_err(|e| IpmiError::Io(e.to_string()))?;
        // Role: the privilege, with "name-only lookup" (bit 4).
        let role = cfg.privilege as u8 | 0x10;
        let mut rakp1 = vec![1, 0, 0, 0];
        rakp1.extend_from_slice(&self.bmc_sid.to_le_bytes());
        rakp1.extend_from_slice(&console_rand);
        rakp1.extend_from_slice(&[role, 0, 0, user.len() as u8]);
        rakp1.extend_from_slice(user);
        let r2 = handshake(
            &mut self.link,
            "RAKP Message 1",
            payload::RAKP1,
            payload::RAKP2,
            1,
            &rakp1,
        )?;
        if r2[1] != 0 {
            return Err(rakp_status("RAKP 2", r2[1], cfg));
        }
        if r2.len() < 40 || u32_at(&r2, 4) != self.console_sid {
            return Err(IpmiError::Protocol("malformed RAKP Message 2".into()));
        }
        let mut ex = Exchange {
            console_sid: self.console_sid,
            bmc_sid: self.bmc_sid,
            console_rand,
            bmc_rand: [0; 16],
            bmc_guid: [0; 16],
            role,
            user: user.to_vec(),
        };
        ex.bmc_rand.copy_from_slice(&r2[8..24]);
        ex.bmc_guid.copy_from_slice(&r2[24..40]);
        if r2[40..] != ex.rakp2_code(self.suite.auth, &cfg.password)[..] {
            return Err(IpmiError::AuthFailed(format!(
                "authentication failed: the BMC's proof does not match the password of user '{}' (check password)",
                cfg.user
            )));
        }
        Ok(ex)
    }

    /// RAKP 3 and 4: prove the password to the BMC and check its answer; the session
    /// integrity key.
    fn rakp_3_4(&mut self, cfg: &Config, ex: &Exchange) -> Result<Secret, IpmiError> {
        let auth = self.suite.auth;
        let password: &Secret = &cfg.password;
        let mut rakp3 = vec![2, 0, 0, 0];
        rakp3.extend_from_slice(&self.bmc_sid.to_le_bytes());
        rakp3.extend_from_slice(&ex.rakp3_code(auth, password));
        let kg: &[u8] = cfg.kg.as_deref().map(|k| &k[..]).unwrap_or(&password[..]);
        let sik = ex.sik(auth, kg);
        let r4 = handshake(
            &mut self.link,
            "RAKP Message 3",
            payload::RAKP3,
            payload::RAKP4,
            2,
            &rakp3,
        )?;
        if r4[1] != 0 {
            return Err(rakp_status("RAKP 4", r4[1], cfg));
        }
        if r4.len() < 8
            || u32_at(&r4, 4) != self.console_sid
            || r4[8..] != ex.rakp4_code(auth, &sik)[..]
        {
            return Err(IpmiError::AuthFailed(
                "authentication failed: the BMC's RAKP 4 check value does not verify (check hexadecimal_kg)".into(),
            ));
        }
        Ok(sik)
    }
}

/// Ask which cipher suites the BMC offers (Get Channel Cipher Suites, IPMI 2.0 §22.15),
/// with one short try: for error messages only, since some BMCs never answer it.
pub fn offered_suites(link: &mut Link) -> Option<Vec<u8>> {
    let mut records = Vec::new();
    for index in 0u8..8 {
        let saved = link.tries;
        link.tries = 1;
        let r = crate::ipmi::session::presession(
            link,
            "Get Channel Cipher Suites",
            crate::ipmi::app::GET_CHANNEL_CIPHER_SUITES,
            &[0x0e, 0x00, 0x80 | index],
        );
        link.tries = saved;
        let r = r.ok().filter(|r| r.completion == 0)?;
        records.extend_from_slice(r.data.get(1..).unwrap_or_default());
        if r.data.len() < 17 {
            break;
        }
    }
    Some(parse_suite_records(&records))
}

/// Suite ids from Get Channel Cipher Suites record data: 0xc0 id algs... (standard) or
/// 0xc1 id iana(3) algs... (OEM, skipped).
pub fn parse_suite_records(data: &[u8]) -> Vec<u8> {
    let mut ids = Vec::new();
    let mut i = 0;
    while i + 1 < data.len() {
        match data[i] {
            0xc0 => {
                ids.push(data[i + 1]);
                i += 2;
            }
            0xc1 => i += 5,
            _ => i += 1,
        }
    }
    ids
}
