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
        let Some(confirm) = &family.confirm else {
            return Ok(Some(family));
        };
        let Some(oid) = confirm.object.oid_for(&unit) else {
            continue;
        };
        let text = match client.get(&oid) {
            Ok(v) if !v.is_missing() => Some(v.text()),
            Ok(_) => None,
            // SNMPv1's noSuchName for the one object asked.
            Err(SnmpError::NoSuchObject(_)) => None,
            Err(e) => return Err(e),
        };
        let holds = |t: &String| {
            confirm.contains.is_empty() || confirm.contains.iter().any(|w| t.contains(w.as_str()))
        };
        if text.as_ref().is_some_and(holds) {
            return Ok(Some(family));
        }
        log_debug!(
            1,
            "SNMP family {} does not apply: {} is {}",
            family.name,
            crate::snmp::oid::format_oid(&oid),
            text.map_or("not there".to_string(), |t| format!("'{}'", t.trim()))
        );
    }
    Ok(None)
}
