//! What an SNMP PDU meters, read as its family's data says: per outlet current, power and
//! energy, and the whole unit's input. One walk of every outlet column (a metered column
//! holds every outlet, sometimes every sensor of every outlet, told apart by the row
//! pattern) and one GET of the input objects; values are scaled to amperes, watts and
//! watt-hours here, so nothing above knows a vendor's units.

use std::collections::{BTreeMap, HashMap};

use crate::contract::error::Result;
use crate::device::{Meter, MeterKind, Outlet, OutletMeter, Quantities};
use crate::snmp::client::{Client, SnmpError, Value};
use crate::snmp::family::{Family, Quantity, Row};

/// The number a metered object holds, if it holds one.
fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Str(_) => v.text().trim().parse().ok(),
        _ => None,
    }
}

fn set(q: &mut Quantities, what: Quantity, value: Option<f64>) {
    let slot = match what {
        Quantity::Current => &mut q.current,
        Quantity::Power => &mut q.power,
        Quantity::Energy => &mut q.energy,
    };
    *slot = value;
}

/// Read the family's meters; `outlets` are the device's outlets as listed (ids, names
/// and states), in order. An outlet with readings but not listed is added after them.
pub fn read(client: &mut Client, family: &Family, outlets: Vec<Outlet>) -> Result<Meter> {
    let m = &family.meter;
    let mut per_outlet: BTreeMap<String, Quantities> = BTreeMap::new();
    let readings = m.outlets();
    let mut bases: Vec<Vec<u64>> = Vec::new();
    for (_, r) in &readings {
        for c in std::iter::once(&r.column).chain(&r.digits).chain(&r.outlet) {
            if !bases.contains(&c.oid) {
                bases.push(c.oid.clone());
            }
        }
    }
    if !bases.is_empty() {
        let walked = client.walk_columns(&bases)?;
        // Every walked object by its full OID (digits are looked up by row).
        let values: HashMap<&[u64], i64> = walked
            .iter()
            .flatten()
            .filter_map(|(oid, v)| Some((oid.as_slice(), number(v)?)))
            .collect();
        for (what, r) in &readings {
            let Some(column) = bases.iter().position(|b| *b == r.column.oid) else {
                continue;
            };
            for (oid, v) in walked.get(column).into_iter().flatten() {
                let Some(row) = oid
                    .get(r.column.oid.len()..)
                    .and_then(|suffix| r.column.row.parse_suffix(suffix))
                else {
                    continue;
                };
                let Some(raw) = number(v) else { continue };
                let digits = match &r.digits {
                    Some(d) => match d.oid_for(&row).and_then(|o| values.get(o.as_slice())) {
                        Some(n) => Some(*n),
                        // Without its precision a raw value means nothing.
                        None => continue,
                    },
                    None => None,
                };
                // A table of its own: the entry's outlet number, from its outlet column.
                let row = match &r.outlet {
                    Some(o) => match o.oid_for(&row).and_then(|o| values.get(o.as_slice())) {
                        Some(n) => match u64::try_from(*n) {
                            Ok(n) => Row {
                                switch: 1,
                                plug: vec![n],
                            },
                            Err(_) => continue,
                        },
                        None => continue,
                    },
                    None => row,
                };
                let q = per_outlet.entry(family.plug_id(&row)).or_default();
                set(q, *what, r.value(raw, digits));
            }
        }
    }
    let mut listed: Vec<OutletMeter> = outlets
        .into_iter()
        .map(|o| OutletMeter {
            reading: per_outlet.remove(&o.id).unwrap_or_default(),
            id: o.id,
            name: o.alias,
            state: o.state,
        })
        .collect();
    listed.extend(per_outlet.into_iter().map(|(id, reading)| OutletMeter {
        id,
        name: String::new(),
        state: None,
        reading,
    }));
    Ok(Meter {
        kind: MeterKind::Pdu,
        outlets: listed,
        input: input(client, family)?,
        ups: None,
    })
}

/// The unit's input readings: one GET of every input object and its digits. An agent that
/// refuses the whole request for one missing object (SNMPv1's noSuchName) is asked object
/// by object, a missing one then reading as not measured.
fn input(client: &mut Client, family: &Family) -> Result<Quantities> {
    let unit = Row {
        switch: 1,
        plug: Vec::new(),
    };
    let readings = family.meter.inputs();
    let mut oids: Vec<Vec<u64>> = Vec::new();
    for (_, r) in &readings {
        for c in std::iter::once(&r.column).chain(&r.digits) {
            if let Some(o) = c.oid_for(&unit).filter(|o| !oids.contains(o)) {
                oids.push(o);
            }
        }
    }
    let mut q = Quantities::default();
    if oids.is_empty() {
        return Ok(q);
    }
    let values: Vec<Option<i64>> = match client.get_many(&oids) {
        Ok(values) => values.iter().map(number).collect(),
        Err(e @ (SnmpError::Timeout(_) | SnmpError::Unreachable(_) | SnmpError::Denied(_))) => {
            return Err(e.into())
        }
        Err(_) => oids
            .iter()
            .map(|o| client.get(o).ok().as_ref().and_then(number))
            .collect(),
    };
    let value_of = |oid: Option<Vec<u64>>| -> Option<i64> {
        let oid = oid?;
        let at = oids.iter().position(|o| *o == oid)?;
        values.get(at).copied().flatten()
    };
    for (what, r) in readings {
        let Some(raw) = value_of(r.column.oid_for(&unit)) else {
            continue;
        };
        let digits = match &r.digits {
            Some(d) => match value_of(d.oid_for(&unit)) {
                Some(n) => Some(n),
                None => continue,
            },
            None => None,
        };
        set(&mut q, what, r.value(raw, digits));
    }
    Ok(q)
}
