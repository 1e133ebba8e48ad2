//! DCMI Get Power Reading (DCMI v1.5 §6.6.1): what the system draws now, and the least,
//! most and mean over the BMC's statistics period. For reporting only, never for a
//! fencing decision: many BMCs do not implement DCMI or have power measurement switched
//! off, and both are an answer ("no reading"), not a failure.
//!
//! Every byte of the answer comes from the device, so this module reads it without
//! indexing or arithmetic that could panic.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::ipmi::session::Session;
use crate::ipmi::IpmiError;

/// The group-extension network function (IPMI 2.0 table 5-1); DCMI is the group 0xDC.
const NETFN_GROUP_EXTENSION: u8 = 0x2c;
/// The first data byte of every DCMI request and response: the DCMI group id.
const DCMI_GROUP: u8 = 0xdc;
const GET_POWER_READING: u8 = 0x02;
/// Reading mode "system power statistics"; its mode attributes are all reserved (0).
const MODE_SYSTEM_POWER: u8 = 0x01;
const MODE_ATTRIBUTES: u8 = 0x00;
/// Power reading state, bit 6: the BMC is measuring power.
const MEASUREMENT_ACTIVE: u8 = 0x40;

const WHAT: &str = "Get Power Reading";

/// Completion codes a BMC gives when it does not implement DCMI, or not this mode of
/// the command: invalid command (for this LUN), request length or field invalid,
/// parameter out of range.
const UNSUPPORTED: [u8; 6] = [0xc1, 0xc2, 0xc7, 0xc8, 0xc9, 0xcc];

/// One power reading, in watts, over the BMC's statistics period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerReading {
    pub current_watts: u16,
    pub minimum_watts: u16,
    pub maximum_watts: u16,
    pub average_watts: u16,
    /// When the BMC took the reading (IPMI timestamp: seconds since 1970, BMC clock).
    pub timestamp: u32,
    /// The statistics period the minimum, maximum and average cover, in milliseconds.
    pub period_ms: u32,
}

/// The system's power reading; None when the BMC does not implement DCMI (a completion
/// code saying the command is invalid or unsupported: 0xC1, 0xC2, 0xC7, 0xC8, 0xC9,
/// 0xCC) or says power measurement is not active. Other completion codes stay errors.
pub fn power_reading(s: &mut Session) -> Result<Option<PowerReading>, IpmiError> {
    let request = [DCMI_GROUP, MODE_SYSTEM_POWER, MODE_ATTRIBUTES, 0x00];
    match s.command(WHAT, NETFN_GROUP_EXTENSION, GET_POWER_READING, &request) {
        Ok(data) => parse_power_reading(&data),
        Err(IpmiError::Completion { code, .. }) if UNSUPPORTED.contains(&code) => {
            log_debug!(
                2,
                "IPMI: {WHAT} answered 0x{code:02x} ({}): no DCMI power reading",
                crate::ipmi::completion_text(code)
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Takes the fields of an answer in order, each a fixed number of bytes.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self, field: &str) -> Result<[u8; N], IpmiError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(IpmiError::Protocol(format!(
                "{WHAT} answered without {field}"
            )));
        };
        self.rest = rest;
        Ok(*head)
    }

    fn u16(&mut self, field: &str) -> Result<u16, IpmiError> {
        self.take::<2>(field).map(u16::from_le_bytes)
    }

    fn u32(&mut self, field: &str) -> Result<u32, IpmiError> {
        self.take::<4>(field).map(u32::from_le_bytes)
    }
}

/// The data of a Get Power Reading answer (after the completion code), 18 bytes, all
/// numbers little-endian: group id, current, minimum, maximum and average power (2 bytes
/// each), timestamp (4), statistics period (4), power reading state (1). Bytes after
/// them are ignored. None when the state says measurement is not active.
fn parse_power_reading(data: &[u8]) -> Result<Option<PowerReading>, IpmiError> {
    let mut f = Fields { rest: data };
    let [group] = f.take::<1>("the DCMI group id")?;
    if group != DCMI_GROUP {
        return Err(IpmiError::Protocol(format!(
            "{WHAT} answered group id 0x{group:02x}, not DCMI's 0x{DCMI_GROUP:02x}"
        )));
    }
    let reading = PowerReading {
        current_watts: f.u16("the current power")?,
        minimum_watts: f.u16("the minimum power")?,
        maximum_watts: f.u16("the maximum power")?,
        average_watts: f.u16("the average power")?,
        timestamp: f.u32("the timestamp")?,
        period_ms: f.u32("the statistics reporting period")?,
    };
    let [state] = f.take::<1>("the power reading state")?;
    if state & MEASUREMENT_ACTIVE == 0 {
        return Ok(None);
    }
    Ok(Some(reading))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading from a DCMI BMC, as the answer's data after the completion code.
    const VECTOR: [u8; 18] = [
        0xdc, 0xd2, 0x00, 0x02, 0x00, 0xd4, 0x01, 0xb8, 0x00, 0x89, 0x72, 0x37, 0x66, 0xe8, 0x03,
        0x00, 0x00, 0x40,
    ];

    fn protocol_error(data: &[u8]) -> String {
        match parse_power_reading(data) {
            Err(IpmiError::Protocol(m)) => m,
            other => panic!("not a protocol error: {other:?}"),
        }
    }

    #[test]
    fn a_known_reading_is_decoded() {
        assert_eq!(
            parse_power_reading(&VECTOR),
            Ok(Some(PowerReading {
                current_watts: 210,
                minimum_watts: 2,
                maximum_watts: 468,
                average_watts: 184,
                timestamp: 0x6637_7289,
                period_ms: 1000,
            }))
        );
        // Bytes after the state (an OEM extension) do not matter.
        let mut longer = VECTOR.to_vec();
        longer.extend([0xff, 0xff]);
        assert_eq!(parse_power_reading(&longer), parse_power_reading(&VECTOR));
    }

    #[test]
    fn inactive_measurement_is_no_reading() {
        let mut inactive = VECTOR;
        if let Some(state) = inactive.last_mut() {
            *state = 0x00;
        }
        assert_eq!(parse_power_reading(&inactive), Ok(None));
        // Only bit 6 counts: the reserved bits do not make a reading active.
        if let Some(state) = inactive.last_mut() {
            *state = 0xbf;
        }
        assert_eq!(parse_power_reading(&inactive), Ok(None));
    }

    #[test]
    fn short_answers_name_what_is_missing() {
        assert!(protocol_error(&[]).contains("the DCMI group id"));
        let cut = |n: usize| VECTOR.get(..n).unwrap_or(&[]).to_vec();
        assert!(protocol_error(&cut(2)).contains("the current power"));
        assert!(protocol_error(&cut(8)).contains("the average power"));
        assert!(protocol_error(&cut(12)).contains("the timestamp"));
        assert!(protocol_error(&cut(16)).contains("the statistics reporting period"));
        assert!(protocol_error(&cut(17)).contains("the power reading state"));
    }

    #[test]
    fn another_group_id_is_a_protocol_error() {
        let mut other = VECTOR;
        if let Some(group) = other.first_mut() {
            *group = 0x00;
        }
        assert!(protocol_error(&other).contains("group id 0x00"));
    }
}
