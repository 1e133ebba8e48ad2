//! Which of the families a sysObjectID may mean the device is: the first, most likely
//! one, unless it names an object the device must have (`confirm`) and the device has
//! not got it; then the next. Some vendors give several generations, or a lone unit and
//! a daisy chain, one sysObjectID; NUT's snmp-ups tells them apart the same way.

use crate::snmp::client::{Client, SnmpError};
use crate::snmp::family::{Family, Row};

/// The first of `ranked` the device confirms (a family without a `confirm` object is
/// taken as it is); None when none does.
pub fn first_confirmed(
    client: &mut Client,
    ranked: Vec<Family>,
) -> Result<Option<Family>, SnmpError> {
    let unit = Row {
        switch: 1,
        plug: Vec::new(),
    };
    for family in ranked {
        let Some(oid) = family.confirm.as_ref().and_then(|c| c.oid_for(&unit)) else {
            return Ok(Some(family));
        };
        let present = match client.get(&oid) {
            Ok(v) => !v.is_missing(),
            // SNMPv1's noSuchName for the one object asked.
            Err(SnmpError::NoSuchObject(_)) => false,
            Err(e) => return Err(e),
        };
        if present {
            return Ok(Some(family));
        }
        log_debug!(
            1,
            "SNMP family {} does not apply: the device has no {}",
            family.name,
            crate::snmp::oid::format_oid(&oid)
        );
    }
    Ok(None)
}
