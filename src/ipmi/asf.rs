//! RMCP/ASF Presence Ping (DMTF ASF 2.0 §3.2.4.3; IPMI 2.0 §13.2.3): a management
//! controller on the LAN answers it with a Pong without any session or credentials, and
//! the Pong says whether it speaks IPMI. What a network scan asks first.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::ipmi::link::{Link, Verdict};
use crate::ipmi::IpmiError;

/// RMCP: version 1.0, no acknowledgement (sequence 0xff), class ASF.
const RMCP_ASF: [u8; 4] = [0x06, 0x00, 0xff, 0x06];
/// The ASF IANA enterprise number (4542), big-endian.
const ASF_IANA: [u8; 4] = [0x00, 0x00, 0x11, 0xbe];
const PRESENCE_PING: u8 = 0x80;
const PRESENCE_PONG: u8 = 0x40;
/// Supported entities, bit 7: IPMI is supported.
const IPMI_SUPPORTED: u8 = 0x80;
/// The tag the Pong must echo.
const TAG: u8 = 0x5a;

/// What a Presence Pong says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// The controller speaks IPMI.
    pub ipmi: bool,
    /// The IANA enterprise number of its OEM (0: none).
    pub oem: u32,
}

/// Send a Presence Ping and wait for its Pong.
pub fn presence_ping(link: &mut Link) -> Result<Pong, IpmiError> {
    let mut ping = RMCP_ASF.to_vec();
    ping.extend_from_slice(&ASF_IANA);
    ping.extend_from_slice(&[PRESENCE_PING, TAG, 0x00, 0x00]);
    let tries = link.tries;
    link.exchange(
        "RMCP presence ping",
        tries,
        |_| Ok(ping.clone()),
        parse_pong,
    )
}

/// A Pong: the RMCP and ASF headers (12 bytes), then 16 bytes of data: OEM IANA number
/// (4), OEM-defined (4), supported entities (1), supported interactions (1), reserved.
fn parse_pong(d: &[u8]) -> Verdict<Pong> {
    let header = d.get(..4).is_some_and(|h| h == RMCP_ASF)
        && d.get(4..8).is_some_and(|i| i == ASF_IANA)
        && d.get(8) == Some(&PRESENCE_PONG)
        && d.get(9) == Some(&TAG);
    if !header {
        return Verdict::Skip("not a presence pong");
    }
    let (Some(oem), Some(entities)) = (d.get(12..16), d.get(20)) else {
        return Verdict::Fail(IpmiError::Protocol("the presence pong is too short".into()));
    };
    let oem = oem.try_into().map(u32::from_be_bytes).unwrap_or_default();
    Verdict::Accept(Pong {
        ipmi: entities & IPMI_SUPPORTED != 0,
        oem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pong(entities: u8) -> Vec<u8> {
        let mut p = RMCP_ASF.to_vec();
        p.extend_from_slice(&ASF_IANA);
        p.extend_from_slice(&[PRESENCE_PONG, TAG, 0x00, 0x10]);
        p.extend_from_slice(&[0x00, 0x00, 0x01, 0x57]); // OEM 343
        p.extend_from_slice(&[0, 0, 0, 0, entities, 0, 0, 0, 0, 0, 0, 0]);
        p
    }

    #[test]
    fn a_pong_says_whether_ipmi_is_there() {
        match parse_pong(&pong(0x81)) {
            Verdict::Accept(p) => assert_eq!(
                p,
                Pong {
                    ipmi: true,
                    oem: 343
                }
            ),
            _ => panic!("not accepted"),
        }
        match parse_pong(&pong(0x01)) {
            Verdict::Accept(p) => assert!(!p.ipmi),
            _ => panic!("not accepted"),
        }
        let mut other = pong(0x81);
        if let Some(tag) = other.get_mut(9) {
            *tag = 0x01; // another ping's tag
        }
        assert!(matches!(parse_pong(&other), Verdict::Skip(_)));
        let mut short = pong(0x81);
        short.truncate(14);
        assert!(matches!(parse_pong(&short), Verdict::Fail(_)));
    }
}
