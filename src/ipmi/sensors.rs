//! The power-supply sensors of a BMC (IPMI 2.0 §43 SDRs, §35.14 Get Sensor Reading,
//! §42.2 sensor type 0x08): which supplies it has and whether it reports one failed.
//! Read from the main SDR repository: full and compact sensor records of type 0x08
//! owned by the BMC itself, then each sensor's discrete states.

use crate::ipmi::session::Session;
use crate::ipmi::IpmiError;

const NETFN_SENSOR: u8 = 0x04;
const NETFN_STORAGE: u8 = 0x0a;
const GET_SENSOR_READING: u8 = 0x2d;
const RESERVE_SDR_REPOSITORY: u8 = 0x22;
const GET_SDR: u8 = 0x23;

const POWER_SUPPLY: u8 = 0x08;
/// Event/reading type "sensor-specific": the type 0x08 offsets below apply only to it.
const SENSOR_SPECIFIC: u8 = 0x6f;
const FULL_SENSOR: u8 = 0x01;
const COMPACT_SENSOR: u8 = 0x02;
const BMC_ADDRESS: u8 = 0x20;
/// The last record id, as the repository says "no next record".
const END: u16 = 0xffff;
/// Bytes asked per Get SDR: small enough for every BMC's message buffer.
const CHUNK: u8 = 16;
/// A repository is a few hundred records; a BMC that never says "end" is stopped here.
const MAX_RECORDS: usize = 1024;

/// One power supply as its sensor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerSupply {
    /// The sensor's name in its SDR ("PS2 Status").
    pub name: String,
    /// What is wrong, in the specification's words; empty when nothing is.
    pub faults: Vec<&'static str>,
    /// Whether the BMC gave a reading at all.
    pub read: bool,
}

/// The discrete offsets of sensor type 0x08 that mean the supply does not deliver.
const FAULTS: [(u8, &str); 5] = [
    (1, "failure detected"),
    (3, "input lost"),
    (4, "input lost or out of range"),
    (5, "input out of range"),
    (6, "configuration error"),
];

/// A power-supply sensor found in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sensor {
    number: u8,
    name: String,
    reports_presence: bool,
}

/// The power supplies the BMC has sensors for, each with its faults.
pub fn power_supplies(s: &mut Session) -> Result<Vec<PowerSupply>, IpmiError> {
    let mut out = Vec::new();
    for sensor in sensors(s)? {
        let data = s.command(
            "Get Sensor Reading",
            NETFN_SENSOR,
            GET_SENSOR_READING,
            &[sensor.number],
        )?;
        out.push(reading(&sensor, &data));
    }
    Ok(out)
}

/// Get Sensor Reading's answer for a discrete sensor: [reading, flags, states 0-7, ...].
/// A reading the BMC cannot give (scanning off, no data) says nothing about the supply.
fn reading(sensor: &Sensor, data: &[u8]) -> PowerSupply {
    let name = sensor.name.clone();
    let unavailable = data.get(1).is_none_or(|f| f & 0x20 != 0) || data.len() < 3;
    if unavailable {
        return PowerSupply {
            name,
            faults: Vec::new(),
            read: false,
        };
    }
    let states = data.get(2).copied().unwrap_or(0);
    let mut faults: Vec<&'static str> = FAULTS
        .iter()
        .filter(|(bit, _)| states & (1 << bit) != 0)
        .map(|(_, what)| *what)
        .collect();
    if sensor.reports_presence && states & 0x01 == 0 {
        faults.insert(0, "not present");
    }
    PowerSupply {
        name,
        faults,
        read: true,
    }
}

/// Walk the SDR repository for power-supply sensors of the BMC itself.
fn sensors(s: &mut Session) -> Result<Vec<Sensor>, IpmiError> {
    let reservation = s.command(
        "Reserve SDR Repository",
        NETFN_STORAGE,
        RESERVE_SDR_REPOSITORY,
        &[],
    )?;
    let [lo, hi] = reservation
        .get(..2)
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| {
            IpmiError::Protocol("Reserve SDR Repository answered without a reservation".into())
        })?;
    let mut found = Vec::new();
    let mut id: u16 = 0;
    for _ in 0..MAX_RECORDS {
        let (next, record) = read_record(s, [lo, hi], id)?;
        if let Some(sensor) = power_supply_sensor(&record) {
            found.push(sensor);
        }
        if next == END || next == id {
            return Ok(found);
        }
        id = next;
    }
    Err(IpmiError::Protocol(format!(
        "the SDR repository did not end within {MAX_RECORDS} records"
    )))
}

/// One record: its header first (5 bytes: id, version, type, length), then the rest in
/// chunks. Returns the id of the next record and the whole record.
fn read_record(s: &mut Session, res: [u8; 2], id: u16) -> Result<(u16, Vec<u8>), IpmiError> {
    let [id_lo, id_hi] = id.to_le_bytes();
    let mut get = |offset: u8, count: u8| -> Result<(u16, Vec<u8>), IpmiError> {
        let d = s.command(
            "Get SDR",
            NETFN_STORAGE,
            GET_SDR,
            &[res[0], res[1], id_lo, id_hi, offset, count],
        )?;
        if d.len() < 2 {
            return Err(IpmiError::Protocol(
                "Get SDR answered without a next record id".into(),
            ));
        }
        Ok((u16::from_le_bytes([d[0], d[1]]), d[2..].to_vec()))
    };
    let (next, mut record) = get(0, 5)?;
    let Some(&len) = record.get(4) else {
        return Err(IpmiError::Protocol(
            "Get SDR answered a short record header".into(),
        ));
    };
    let total = 5 + usize::from(len);
    while record.len() < total {
        let offset = u8::try_from(record.len())
            .map_err(|_| IpmiError::Protocol("an SDR record longer than 255 bytes".into()))?;
        let want = CHUNK.min(u8::try_from(total - record.len()).unwrap_or(CHUNK));
        let (_, part) = get(offset, want)?;
        if part.is_empty() {
            return Err(IpmiError::Protocol(
                "Get SDR answered no bytes of a record".into(),
            ));
        }
        record.extend_from_slice(&part);
    }
    record.truncate(total);
    Ok((next, record))
}

/// A full or compact sensor record of a power supply owned by the BMC.
fn power_supply_sensor(r: &[u8]) -> Option<Sensor> {
    if r.len() < 5 + usize::from(*r.get(4)?) {
        return None; // shorter than it says
    }
    let kind = *r.get(3)?;
    let id_at = match kind {
        FULL_SENSOR => 47,
        COMPACT_SENSOR => 31,
        _ => return None,
    };
    // The BMC's own sensors on LUN 0, read with the power-supply meaning of each bit.
    if *r.get(5)? != BMC_ADDRESS
        || *r.get(6)? & 0x03 != 0
        || *r.get(12)? != POWER_SUPPLY
        || *r.get(13)? != SENSOR_SPECIFIC
    {
        return None;
    }
    // The reading mask (bytes 18-19) says whether the sensor reports presence (offset 0).
    let reports_presence = r.get(18).is_some_and(|m| m & 0x01 != 0);
    let number = *r.get(7)?;
    let id_len = usize::from(r.get(id_at).map_or(0, |t| t & 0x1f));
    let name = r
        .get(id_at + 1..id_at + 1 + id_len)
        .map(|b| String::from_utf8_lossy(b).trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("sensor {number}"));
    Some(Sensor {
        number,
        name,
        reports_presence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact sensor record as ipmi_sim's main_sdr_add takes it.
    pub fn compact(number: u8, sensor_type: u8, name: &str) -> Vec<u8> {
        let mut r = vec![0, 0, 0x51, COMPACT_SENSOR, 0];
        r.extend([
            BMC_ADDRESS,
            0,
            number,
            0x0a,
            1,
            0x7f,
            0x40,
            sensor_type,
            0x6f,
        ]);
        r.extend([0, 0, 0, 0, 0x7f, 0]); // masks: every offset readable
        r.extend([0; 11]);
        r.push(0xc0 | name.len() as u8);
        r.extend(name.as_bytes());
        r[4] = (r.len() - 5) as u8;
        r
    }

    #[test]
    fn power_supply_records_are_found_by_type_and_owner() {
        let r = compact(0x30, POWER_SUPPLY, "PS1 Status");
        assert_eq!(
            power_supply_sensor(&r),
            Some(Sensor {
                number: 0x30,
                name: "PS1 Status".into(),
                reports_presence: true,
            })
        );
        let mut threshold = r.clone();
        threshold[13] = 0x01;
        assert_eq!(power_supply_sensor(&threshold), None, "not sensor-specific");
        let mut lun1 = r.clone();
        lun1[6] = 1;
        assert_eq!(power_supply_sensor(&lun1), None, "another LUN");
        assert_eq!(power_supply_sensor(&compact(0x31, 0x01, "CPU Temp")), None);
        let mut other_owner = r.clone();
        other_owner[5] = 0x82;
        assert_eq!(power_supply_sensor(&other_owner), None);
        assert_eq!(
            power_supply_sensor(&r[..20]),
            None,
            "a cut record is skipped"
        );
    }

    #[test]
    fn readings_name_the_faults() {
        let s = Sensor {
            number: 1,
            name: "PS".into(),
            reports_presence: true,
        };
        assert!(
            reading(&s, &[0, 0x40, 0x01]).faults.is_empty(),
            "present, fine"
        );
        assert_eq!(reading(&s, &[0, 0x40, 0x03]).faults, ["failure detected"]);
        assert_eq!(reading(&s, &[0, 0x40, 0x09]).faults, ["input lost"]);
        assert_eq!(reading(&s, &[0, 0x40, 0x00]).faults, ["not present"]);
        let unread = reading(&s, &[0, 0x60, 0x03]);
        assert!(!unread.read && unread.faults.is_empty());
        assert!(!reading(&s, &[0]).read);
        let no_presence = Sensor {
            reports_presence: false,
            ..s
        };
        assert!(reading(&no_presence, &[0, 0x40, 0x00]).faults.is_empty());
    }
}
