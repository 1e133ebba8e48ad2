//! `fencebox families suggest WALKFILE`: a family file proposed from an `snmpwalk -On`
//! dump of a PDU that no family knows, so that it can be fenced the same day (and the file
//! sent upstream). The outlet table is recognised by its shape: a column of small
//! integers (the state) over the same rows as a column of text (the names), and another
//! such integer column elsewhere (the commands). Everything guessed is marked so in the
//! file, to be checked against the vendor's MIB.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::snmp::family::FamilyFile;
use crate::snmp::oid::{format_oid, parse_oid};

/// An OID as family files write it (no leading dot).
fn plain(oid: &[u64]) -> String {
    format_oid(oid).trim_start_matches('.').to_string()
}

const SYS_DESCR: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
const ENTERPRISES: [u64; 6] = [1, 3, 6, 1, 4, 1];

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Int(i64),
    Text(String),
    Oid(Vec<u64>),
    Other,
}

/// One line of `snmpwalk -On` (`.1.3.6... = TYPE: value`); None for lines that are not
/// (a string's continuation, "No more variables").
fn parse_line(line: &str) -> Option<(Vec<u64>, Val)> {
    let (oid, rest) = line.split_once(" = ")?;
    let oid = parse_oid(oid.trim().trim_start_matches('.'))?;
    let rest = rest.trim();
    let (kind, value) = rest.split_once(": ").unwrap_or(("STRING", rest));
    let number = |v: &str| -> Option<i64> {
        // "on(1)" with MIBs loaded, "(123) 0:00:01.23" for time ticks.
        let inner = match (v.find('('), v.find(')')) {
            (Some(a), Some(b)) if a < b => v.get(a + 1..b)?,
            _ => v.split_whitespace().next()?,
        };
        inner.parse().ok()
    };
    let val = match kind {
        "INTEGER" | "Gauge32" | "Counter32" | "Unsigned32" | "Counter64" | "Timeticks" => {
            number(value).map_or(Val::Other, Val::Int)
        }
        "STRING" => Val::Text(value.trim_matches('"').to_string()),
        "OID" => parse_oid(value.trim().trim_start_matches('.')).map_or(Val::Other, Val::Oid),
        _ => Val::Other,
    };
    Some((oid, val))
}

/// A column of the walk: its OID, and the value of each row (suffix).
#[derive(Clone)]
struct Column {
    oid: Vec<u64>,
    rows: BTreeMap<Vec<u64>, Val>,
}

impl Column {
    fn ints(&self) -> Option<BTreeSet<i64>> {
        self.rows
            .values()
            .map(|v| match v {
                Val::Int(n) => Some(*n),
                _ => None,
            })
            .collect()
    }

    fn is_text(&self) -> bool {
        self.rows.values().all(|v| matches!(v, Val::Text(_)))
    }

    /// A state or command column: small integers, few of them.
    fn is_switch_like(&self) -> bool {
        self.ints()
            .is_some_and(|s| s.len() <= 4 && s.iter().all(|n| (0..=20).contains(n)))
    }

    fn row_set(&self) -> BTreeSet<&Vec<u64>> {
        self.rows.keys().collect()
    }

    /// The table entry the column belongs to (its OID without the column number).
    fn entry(&self) -> &[u64] {
        self.oid
            .get(..self.oid.len().saturating_sub(1))
            .unwrap_or(&[])
    }
}

/// The walk's enterprise columns, when each row suffix is `len` arcs long.
fn columns(walk: &[(Vec<u64>, Val)], len: usize) -> Vec<Column> {
    let mut by: BTreeMap<Vec<u64>, BTreeMap<Vec<u64>, Val>> = BTreeMap::new();
    for (oid, v) in walk {
        if !oid.starts_with(&ENTERPRISES) || oid.len() <= ENTERPRISES.len() + len {
            continue;
        }
        let (col, row) = oid.split_at(oid.len() - len);
        by.entry(col.to_vec())
            .or_default()
            .insert(row.to_vec(), v.clone());
    }
    by.into_iter()
        .filter(|(_, rows)| rows.len() >= 2)
        .map(|(oid, rows)| Column { oid, rows })
        .collect()
}

/// What the walk's outlet table looks like.
struct Table {
    status: Column,
    control: Option<Column>,
    names: Option<Column>,
}

/// The most likely outlet table: a switch-like column that shares its rows (and best its
/// table entry) with a text column; a second switch-like column over the same rows in
/// another table makes the pair state and command (the later table the state).
fn outlet_table(walk: &[(Vec<u64>, Val)]) -> Option<Table> {
    let mut best: Option<(usize, usize, usize)> = None; // (score, row length, index)
    let mut by_len: Vec<Vec<Column>> = Vec::new();
    for len in 1..=3 {
        let cols = columns(walk, len);
        for (i, c) in cols.iter().enumerate().filter(|(_, c)| c.is_switch_like()) {
            let rows = c.row_set();
            let named = cols
                .iter()
                .filter(|t| t.is_text() && t.row_set() == rows)
                .map(|t| if t.entry() == c.entry() { 20 } else { 10 })
                .max()
                .unwrap_or(0);
            let score = named + rows.len().min(64);
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, len, i));
            }
        }
        by_len.push(cols);
    }
    let (_, len, i) = best?;
    let cols = by_len.get(len - 1)?;
    let first = cols.get(i)?;
    let rows = first.row_set();
    // Two tables over the same outlets, each with a small-integer column: vendors put
    // the command table before the state table (APC, CyberPower), so the later one is
    // taken as the state.
    let other = cols
        .iter()
        .find(|t| t.is_switch_like() && t.row_set() == rows && t.entry() != first.entry());
    let (status, control) = match other {
        Some(o) if o.oid > first.oid => (o, Some(first)),
        Some(o) => (first, Some(o)),
        None => (first, None),
    };
    let names = cols
        .iter()
        .filter(|t| t.is_text() && t.row_set() == rows)
        .max_by_key(|t| u8::from(t.entry() == status.entry()))
        .cloned();
    let (status, control) = (status.clone(), control.cloned());
    Some(Table {
        status,
        control,
        names,
    })
}

/// The row pattern of a set of row suffixes: constant arcs as numbers, the varying last
/// arc as the plug (0-based tables as `{plug-1}`), anything else as a dotted path.
fn row_pattern(rows: &BTreeSet<&Vec<u64>>) -> String {
    let Some(first) = rows.iter().next() else {
        return "{plug}".into();
    };
    let len = first.len();
    let last_only =
        (0..len.saturating_sub(1)).all(|i| rows.iter().all(|r| r.get(i) == first.get(i)));
    if !last_only {
        return "{path}".into();
    }
    let lowest = rows
        .iter()
        .filter_map(|r| r.last())
        .min()
        .copied()
        .unwrap_or(1);
    let plug = if lowest == 0 { "{plug-1}" } else { "{plug}" };
    let mut parts: Vec<String> = first
        .iter()
        .take(len.saturating_sub(1))
        .map(u64::to_string)
        .collect();
    parts.push(plug.into());
    parts.join(".")
}

/// On and off values and the values written, from the states seen.
fn value_map(seen: &BTreeSet<i64>) -> (i64, i64, i64, i64, &'static str) {
    let within = |set: &[i64]| seen.iter().all(|v| set.contains(v));
    if within(&[1, 2]) {
        (
            1,
            2,
            1,
            2,
            "1 on, 2 off (the most common convention: APC, CyberPower, Tripp Lite)",
        )
    } else if within(&[0, 1]) {
        (1, 0, 1, 0, "1 on, 0 off")
    } else if within(&[7, 8]) {
        (
            7,
            8,
            1,
            0,
            "7 on, 8 off, written 1 on, 0 off (Raritan's convention)",
        )
    } else {
        (
            1,
            2,
            1,
            2,
            "values seen do not match a known convention: read the MIB",
        )
    }
}

/// The proposed family file for a walk's text; `source` names it in the file.
pub fn suggest(walk_text: &str, source: &str) -> Result<String, String> {
    let walk: Vec<(Vec<u64>, Val)> = walk_text.lines().filter_map(parse_line).collect();
    if walk.is_empty() {
        return Err(format!(
            "{source}: no line of snmpwalk -On output in it (.1.3.6.1... = TYPE: value); walk the device with: snmpwalk -On -v2c -c COMMUNITY ADDRESS .1.3.6.1 > {source}"
        ));
    }
    let get = |oid: &[u64]| walk.iter().find(|(o, _)| o == oid).map(|(_, v)| v);
    let sys_oid = match get(&SYS_OBJECT_ID) {
        Some(Val::Oid(o)) => Some(o.clone()),
        _ => None,
    };
    let descr = match get(&SYS_DESCR) {
        Some(Val::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let table = outlet_table(&walk).ok_or_else(|| {
        format!("{source}: no outlet table found (a column of small integers over two or more rows, under 1.3.6.1.4.1); is the whole device walked (.1.3.6.1)?")
    })?;
    let enterprise = table
        .status
        .oid
        .get(ENTERPRISES.len())
        .copied()
        .unwrap_or(0);
    let name = format!("suggested-{enterprise}");
    let rows = table.status.row_set();
    let pattern = row_pattern(&rows);
    let seen = table.status.ints().unwrap_or_default();
    let (on, off, set_on, set_off, why) = value_map(&seen);
    let seen_text: Vec<String> = seen.iter().map(i64::to_string).collect();
    let clean = |s: &str| s.replace(['"', '\\', '\n', '\r'], " ");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Proposed by fencebox families suggest from {source}."
    );
    let _ = writeln!(
        out,
        "# Check every line marked GUESS against the vendor's MIB before fencing with it, then"
    );
    let _ = writeln!(
        out,
        "# put this file in /etc/fencebox/agents.d/ (docs/families.md) and send it upstream.\n"
    );
    let _ = writeln!(out, "[[family]]");
    let _ = writeln!(out, "name = \"{name}\"");
    let _ = writeln!(out, "vendor = \"enterprise {enterprise}\"");
    let _ = writeln!(
        out,
        "description = \"{}\"",
        clean(if descr.is_empty() {
            "suggested from an snmpwalk"
        } else {
            &descr
        })
    );
    match &sys_oid {
        Some(o) => {
            let _ = writeln!(out, "sysobjectid = [\"{}\"]", plain(o));
        }
        None => {
            let _ = writeln!(
                out,
                "# sysObjectID.0 is not in the walk: fence with family={name}"
            );
        }
    }
    let _ = writeln!(
        out,
        "status = {{ column = \"{}\", row = \"{pattern}\" }}   # GUESS: {} outlets, values seen: {}",
        plain(&table.status.oid),
        rows.len(),
        seen_text.join(", ")
    );
    match &table.control {
        Some(c) => {
            let _ = writeln!(
                out,
                "control = {{ column = \"{}\", row = \"{pattern}\" }}   # GUESS: the other small-integer column over the same outlets",
                plain(&c.oid)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "control = {{ column = \"{}\", row = \"{pattern}\" }}   # GUESS: no other column found; state and command in one",
                plain(&table.status.oid)
            );
        }
    }
    if let Some(n) = &table.names {
        let _ = writeln!(
            out,
            "names = {{ column = \"{}\", row = \"{pattern}\" }}",
            plain(&n.oid)
        );
    }
    let _ = writeln!(out, "on = [{on}]      # GUESS: {why}");
    let _ = writeln!(out, "off = [{off}]     # GUESS");
    let _ = writeln!(out, "set_on = {set_on}    # GUESS");
    let _ = writeln!(out, "set_off = {set_off}   # GUESS");
    // What is proposed must at least read as a family.
    let table: toml::Table = toml::from_str(&out).map_err(|e| format!("internal error: {e}"))?;
    let families = table
        .get("family")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in families {
        let file: FamilyFile = f
            .try_into()
            .map_err(|e| format!("internal error: the proposed family does not read: {e}"))?;
        file.into_family()
            .map_err(|e| format!("internal error: the proposed family is not valid: {e}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APC: &str = "\
.1.3.6.1.2.1.1.1.0 = STRING: \"APC Web/SNMP Management Card\"
.1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.318.1.3.4.5
.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1 = INTEGER: 1
.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.2 = INTEGER: 1
.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3 = INTEGER: 1
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.1 = STRING: \"web1\"
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.2 = STRING: \"web2\"
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.3 = STRING: \"db1\"
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1 = INTEGER: 1
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.2 = INTEGER: 2
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.3 = INTEGER: 1
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.7.1 = Gauge32: 11
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.7.2 = Gauge32: 12
.1.3.6.1.4.1.318.1.1.12.3.5.1.1.7.3 = Gauge32: 13
";

    #[test]
    fn the_state_names_and_command_columns_are_found() {
        let text = suggest(APC, "apc.walk").unwrap();
        assert!(
            text.contains("sysobjectid = [\"1.3.6.1.4.1.318.1.3.4.5\"]"),
            "{text}"
        );
        assert!(
            text.contains(
                "status = { column = \"1.3.6.1.4.1.318.1.1.12.3.5.1.1.4\", row = \"{plug}\" }"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "control = { column = \"1.3.6.1.4.1.318.1.1.12.3.3.1.1.4\", row = \"{plug}\" }"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "names = { column = \"1.3.6.1.4.1.318.1.1.12.3.5.1.1.2\", row = \"{plug}\" }"
            ),
            "{text}"
        );
        assert!(
            text.contains("on = [1]") && text.contains("off = [2]"),
            "{text}"
        );
    }

    #[test]
    fn rows_with_fixed_arcs_and_zero_based_rows() {
        let rows: Vec<Vec<u64>> = (1..=4).map(|i| vec![1, 1, i]).collect();
        assert_eq!(row_pattern(&rows.iter().collect()), "1.1.{plug}");
        let rows: Vec<Vec<u64>> = (0..4).map(|i| vec![i]).collect();
        assert_eq!(row_pattern(&rows.iter().collect()), "{plug-1}");
        let rows: Vec<Vec<u64>> = vec![vec![1, 1], vec![2, 1]];
        assert_eq!(row_pattern(&rows.iter().collect()), "{path}");
    }

    #[test]
    fn a_walk_without_an_outlet_table_says_so() {
        let e = suggest(".1.3.6.1.2.1.1.1.0 = STRING: \"x\"\n", "w").unwrap_err();
        assert!(e.contains("no outlet table"), "{e}");
        let e = suggest("nothing here\n", "w").unwrap_err();
        assert!(e.contains("snmpwalk -On"), "{e}");
    }
}
