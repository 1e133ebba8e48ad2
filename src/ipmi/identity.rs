//! Get Device ID (IPMI 2.0 §20.1): what the controller is, for a scan that has a login.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::ipmi::session::Session;
use crate::ipmi::{netfn, IpmiError};

const GET_DEVICE_ID: u8 = 0x01;

/// What Get Device ID tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId {
    /// Firmware revision, as `major.minor` (the minor number is BCD).
    pub firmware: String,
    /// The IPMI version it speaks, `2.0`.
    pub ipmi_version: String,
    /// The manufacturer's IANA enterprise number.
    pub manufacturer: u32,
    pub product: u16,
}

pub fn device_id(s: &mut Session) -> Result<DeviceId, IpmiError> {
    let data = s.command("Get Device ID", netfn::APP, GET_DEVICE_ID, &[])?;
    parse(&data)
}

/// Device ID (1), revision (1), firmware major (1, bits 6:0) and minor (1, BCD), IPMI
/// version (1, BCD nibbles), additional support (1), manufacturer (3, little-endian,
/// 20 bits), product (2, little-endian); auxiliary firmware (4) may follow.
fn parse(d: &[u8]) -> Result<DeviceId, IpmiError> {
    let short = || IpmiError::Protocol("Get Device ID answered too little".into());
    let byte = |i: usize| d.get(i).copied().ok_or_else(short);
    let (major, minor, version) = (byte(2)? & 0x7f, byte(3)?, byte(4)?);
    let manufacturer = u32::from_le_bytes([byte(6)?, byte(7)?, byte(8)? & 0x0f, 0]);
    let product = u16::from_le_bytes([byte(9)?, byte(10)?]);
    Ok(DeviceId {
        firmware: format!("{major}.{minor:02x}"),
        ipmi_version: format!("{}.{}", version & 0x0f, version.rotate_right(4) & 0x0f),
        manufacturer,
        product,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_fields() {
        // Device 0x20, rev 1, firmware 2.34, IPMI 2.0, manufacturer 343 (Intel), product 0x0102.
        let d = [
            0x20, 0x01, 0x02, 0x34, 0x02, 0xbf, 0x57, 0x01, 0x00, 0x02, 0x01,
        ];
        assert_eq!(
            parse(&d).unwrap(),
            DeviceId {
                firmware: "2.34".into(),
                ipmi_version: "2.0".into(),
                manufacturer: 343,
                product: 0x0102
            }
        );
        assert!(parse(&d[..8]).is_err());
    }
}
