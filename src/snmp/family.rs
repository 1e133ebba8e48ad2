//! SNMP device families as data: which sysObjectIDs a family answers to, where its
//! outlet state, control and names live, and what the values mean.
//!
//! An outlet is a *row*: the OID suffix that follows a column. A row pattern says how a
//! user's plug maps to that suffix: `{plug}` (the outlet number), `{plug-1}` (0-based
//! devices), `{switch}.1.{plug}` (daisy-chained units), `{path}` (a dotted id such as
//! `1.1.3`), plus literal numbers. Each column may have its own pattern.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use serde::{Deserialize, Deserializer};

use crate::snmp::oid::parse_oid;

/// One dot-separated piece of a row pattern (public so that the code build.rs writes for
/// the built-in families can build patterns without reading them from text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(u64),
    Plug(i64),
    Switch,
    Path,
    /// Component N of a plug written in the family's plug form, plus an offset.
    Component(usize, i64),
}

/// How a plug becomes the OID suffix of one column, and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPattern(pub Vec<Part>);

/// A resolved outlet: the unit (switch) and the outlet number or dotted path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    pub switch: u64,
    pub plug: Vec<u64>,
}

impl RowPattern {
    /// Read a pattern as a family file writes it; anything that could not be rendered
    /// and read back unambiguously is refused here, when the file is read.
    pub fn parse(s: &str) -> Result<RowPattern, String> {
        let parts = s
            .split('.')
            .map(parse_part)
            .collect::<Result<Vec<_>, _>>()?;
        check_parts(&parts).map_err(|e| format!("row '{s}': {e}"))?;
        Ok(RowPattern(parts))
    }

    pub fn has_plug(&self) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Plug(_) | Part::Path | Part::Component(..)))
    }

    pub fn has_switch(&self) -> bool {
        self.0.contains(&Part::Switch)
    }

    pub fn is_path(&self) -> bool {
        self.0.contains(&Part::Path)
    }

    /// The highest `{pN}` component the pattern uses.
    pub fn max_component(&self) -> Option<usize> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Component(i, _) => Some(*i),
                _ => None,
            })
            .max()
    }

    /// The suffix for `row`; None when an offset would take it out of range.
    pub fn render(&self, row: &Row) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Part::Literal(n) => out.push(*n),
                Part::Switch => out.push(row.switch),
                Part::Path => out.extend(&row.plug),
                Part::Plug(off) => out.push(shift(*row.plug.last()?, *off)?),
                Part::Component(i, off) => out.push(shift(*row.plug.get(*i)?, *off)?),
            }
        }
        Some(out)
    }

    /// The row a suffix stands for (the inverse of `render`). The suffix comes from the
    /// device: whatever its length or values, the answer is a row that renders back to
    /// exactly this suffix, or None.
    pub fn parse_suffix(&self, suffix: &[u64]) -> Option<Row> {
        let row = if self.is_path() {
            self.parse_path_suffix(suffix)?
        } else {
            self.parse_fixed_suffix(suffix)?
        };
        (self.render(&row)? == suffix).then_some(row)
    }

    /// A pattern with `{path}`: the path takes what the other parts leave.
    fn parse_path_suffix(&self, suffix: &[u64]) -> Option<Row> {
        let fixed = self.0.len().checked_sub(1)?;
        let take = suffix.len().checked_sub(fixed).filter(|n| *n > 0)?;
        let mut row = Row {
            switch: 1,
            plug: Vec::new(),
        };
        let mut rest = suffix;
        for p in &self.0 {
            if let Part::Path = p {
                let (path, after) = rest.split_at_checked(take)?;
                row.plug = path.to_vec();
                rest = after;
                continue;
            }
            let (&v, after) = rest.split_first()?;
            match p {
                Part::Literal(n) if v == *n => {}
                Part::Switch => row.switch = v,
                _ => return None,
            }
            rest = after;
        }
        rest.is_empty().then_some(row)
    }

    /// A pattern of one arc per part.
    fn parse_fixed_suffix(&self, suffix: &[u64]) -> Option<Row> {
        if suffix.len() != self.0.len() {
            return None;
        }
        let mut row = Row {
            switch: 1,
            plug: Vec::new(),
        };
        for (p, &v) in self.0.iter().zip(suffix) {
            match p {
                Part::Literal(n) if *n == v => {}
                Part::Literal(_) => return None,
                Part::Switch => row.switch = v,
                Part::Plug(off) => row.plug = vec![shift(v, off.checked_neg()?)?],
                Part::Component(i, off) => {
                    // i < MAX_COMPONENTS (checked when the pattern was read).
                    if row.plug.len() <= *i {
                        row.plug.resize(i.checked_add(1)?, 0);
                    }
                    *row.plug.get_mut(*i)? = shift(v, off.checked_neg()?)?;
                }
                Part::Path => {}
            }
        }
        Some(row)
    }
}

/// `v + off`, None when it leaves the range of row numbers.
fn shift(v: u64, off: i64) -> Option<u64> {
    v.checked_add_signed(off)
}

/// Most numbers a plug form may hold (`{p0}` to `{p15}`); a pattern cannot make a row
/// grow without bound.
pub const MAX_COMPONENTS: usize = 16;

const PATTERN_HELP: &str =
    "a number, {plug}, {plug+N}, {plug-N}, {switch}, {path} or {pN}, {pN+M}, {pN-M}";

/// A signed offset written `+N` or `-N` (the sign is required).
fn parse_offset(s: &str, p: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "bad offset in '{p}': write a sign and a number, as in {{plug+1}} or {{plug-1}}"
        ));
    }
    s.parse()
        .map_err(|_| format!("offset in '{p}' is out of range"))
}

/// A `{pN...}` part: component N of the plug form, then an optional offset.
fn parse_component(rest: &str, p: &str) -> Result<Part, String> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (index, offset) = rest.split_at_checked(digits).unwrap_or_default();
    let index: usize = index
        .parse()
        .ok()
        .filter(|i| *i < MAX_COMPONENTS)
        .ok_or_else(|| {
            format!(
                "bad component in '{p}': {{pN}} takes N from 0 to {}",
                MAX_COMPONENTS.saturating_sub(1)
            )
        })?;
    let offset = if offset.is_empty() {
        0
    } else {
        parse_offset(offset, p)?
    };
    Ok(Part::Component(index, offset))
}

fn parse_part(p: &str) -> Result<Part, String> {
    let Some(inner) = p.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = p.parse() {
                return Ok(Part::Literal(n));
            }
        }
        return Err(format!("'{p}' is not {PATTERN_HELP}"));
    };
    match inner {
        "plug" => Ok(Part::Plug(0)),
        "switch" => Ok(Part::Switch),
        "path" => Ok(Part::Path),
        _ => {
            if let Some(off) = inner.strip_prefix("plug") {
                parse_offset(off, p).map(Part::Plug)
            } else if let Some(rest) = inner.strip_prefix('p') {
                parse_component(rest, p)
            } else {
                Err(format!("'{p}' is not {PATTERN_HELP}"))
            }
        }
    }
}

/// Patterns whose suffix could not be read back into one row are refused: a row is
/// told by one {plug}, one {path} or distinct components, and one {switch} at most.
fn check_parts(parts: &[Part]) -> Result<(), String> {
    let count = |f: fn(&Part) -> bool| parts.iter().filter(|p| f(p)).count();
    if count(|p| matches!(p, Part::Switch)) > 1 {
        return Err("{switch} appears more than once".into());
    }
    let plugs = count(|p| matches!(p, Part::Plug(_)));
    let paths = count(|p| matches!(p, Part::Path));
    let components = count(|p| matches!(p, Part::Component(..)));
    let kinds = [plugs, paths, components]
        .iter()
        .filter(|n| **n > 0)
        .count();
    if plugs > 1 || paths > 1 || kinds > 1 {
        return Err(
            "a row holds one {plug}, or one {path}, or {pN} components, not several".into(),
        );
    }
    let mut seen = [false; MAX_COMPONENTS];
    for p in parts {
        if let Part::Component(i, _) = p {
            match seen.get_mut(*i) {
                Some(s) if !*s => *s = true,
                _ => return Err(format!("{{p{i}}} appears more than once")),
            }
        }
    }
    Ok(())
}

/// A column: its OID and how rows follow it.
#[derive(Debug, Clone)]
pub struct Column {
    pub oid: Vec<u64>,
    pub row: RowPattern,
}

impl Column {
    pub fn oid_for(&self, row: &Row) -> Option<Vec<u64>> {
        let mut o = self.oid.clone();
        o.extend(self.row.render(row)?);
        Some(o)
    }
}

#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub vendor: String,
    pub description: String,
    pub sysobjectid: Vec<Vec<u64>>,
    pub sysobjectid_prefix: Vec<Vec<u64>>,
    pub status: Column,
    /// Where on and off are written (one column on most devices, two on some).
    pub control_on: Column,
    pub control_off: Column,
    /// Where the one-command cycle is written (default: the on column).
    pub control_cycle: Option<Column>,
    pub names: Option<Column>,
    /// A second text column shown as the alias in list output.
    pub alias: Option<Column>,
    /// List shows the names as plug ids (IF-MIB ports are known by name).
    pub list_ids_are_names: bool,
    pub on: Vec<i64>,
    pub off: Vec<i64>,
    pub set_on: i64,
    pub set_off: i64,
    pub cycle: Option<i64>,
    /// Names come quoted from some devices; strip one pair of quotes.
    pub unquote_names: bool,
    /// List ids show the unit (`2:5`) even for unit 1; otherwise only units after the first.
    pub unit_in_ids: bool,
    /// State and control are one string per unit, outlet N being its Nth comma-separated
    /// field (Lindy); their rows then name the unit only.
    pub packed: bool,
    /// Names are comma-separated records whose first field is the name.
    pub name_first_field: bool,
    /// How plugs are written when they are not plain numbers: `fc{}/{}` takes `fc1/3` as
    /// the components [1, 3] (`{p0}`, `{p1}` in rows). Other plugs are refused.
    pub plug_form: Option<String>,
    /// What the family meters, where (none for switch-only devices).
    pub meter: Meter,
    /// An object the device must have for the family to apply (its row numbers only),
    /// asked when the sysObjectID alone does not tell families apart: NUT's layered
    /// identification, by probing.
    pub confirm: Option<Confirm>,
}

/// The object a family asks of a device before it applies: present, and when `contains`
/// is given, its text holding one of those words (a model name object, as NUT reads it).
#[derive(Debug, Clone)]
pub struct Confirm {
    pub object: Column,
    pub contains: Vec<String>,
}

/// A metered quantity: the column it is read from and how a raw value becomes the base
/// unit (amperes, watts, watt-hours): times `scale`, or divided by ten to the power the
/// device gives in `digits` (a column with the same rows: Raritan states its own
/// precision per sensor).
#[derive(Debug, Clone)]
pub struct Reading {
    pub column: Column,
    pub scale: f64,
    pub digits: Option<Column>,
    /// When the readings' rows are a table's own entries rather than outlets (APC's
    /// rPDU2 metered outlets): a column over the same rows holding each entry's outlet
    /// number.
    pub outlet: Option<Column>,
}

impl Reading {
    /// The value in the base unit; None for a raw value that says "not measured" (the
    /// MIBs agree on negative numbers for that) or for a bad digits count.
    pub fn value(&self, raw: i64, digits: Option<i64>) -> Option<f64> {
        if raw < 0 {
            return None;
        }
        let divisor = match digits {
            Some(d) if (0..=9).contains(&d) => 10f64.powi(i32::try_from(d).ok()?),
            Some(_) => return None,
            None => 1.0,
        };
        #[allow(clippy::cast_precision_loss)] // meter readings are far below 2^52
        Some(raw as f64 * self.scale / divisor)
    }
}

/// The metered quantities of a family, each where the device has it: per outlet (rows
/// as the outlet's state) and for the whole device (the input, one object).
#[derive(Debug, Clone, Default)]
pub struct Meter {
    pub outlet_current: Option<Reading>,
    pub outlet_power: Option<Reading>,
    pub outlet_energy: Option<Reading>,
    pub input_current: Option<Reading>,
    pub input_power: Option<Reading>,
    pub input_energy: Option<Reading>,
}

impl Meter {
    /// The outlets' metered quantities, those the family has.
    pub fn outlets(&self) -> Vec<(Quantity, &Reading)> {
        present([
            (Quantity::Current, &self.outlet_current),
            (Quantity::Power, &self.outlet_power),
            (Quantity::Energy, &self.outlet_energy),
        ])
    }

    /// The input's metered quantities, those the family has.
    pub fn inputs(&self) -> Vec<(Quantity, &Reading)> {
        present([
            (Quantity::Current, &self.input_current),
            (Quantity::Power, &self.input_power),
            (Quantity::Energy, &self.input_energy),
        ])
    }

    pub fn is_empty(&self) -> bool {
        self.outlets().is_empty() && self.inputs().is_empty()
    }
}

fn present(all: [(Quantity, &Option<Reading>); 3]) -> Vec<(Quantity, &Reading)> {
    all.into_iter()
        .filter_map(|(q, r)| Some((q, r.as_ref()?)))
        .collect()
}

/// What a reading measures, in its base unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quantity {
    /// Amperes.
    Current,
    /// Watts (active power).
    Power,
    /// Watt-hours, cumulative (a meter the user may reset).
    Energy,
}

/// Read a plug written in a plug form (`fc{}/{}`): the numbers in place of `{}`, the rest
/// matched without regard to case.
pub fn parse_plug_form(form: &str, text: &str) -> Option<Vec<u64>> {
    let lower = text.trim().to_ascii_lowercase();
    let mut pieces = form.split("{}");
    let mut rest = lower.strip_prefix(pieces.next()?.to_ascii_lowercase().as_str())?;
    let mut numbers = Vec::new();
    // Each later piece follows a number.
    for piece in pieces {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at_checked(digits)?;
        numbers.push(number.parse().ok()?);
        rest = after.strip_prefix(piece.to_ascii_lowercase().as_str())?;
    }
    rest.is_empty().then_some(numbers)
}

impl Family {
    pub fn switched(&self) -> bool {
        self.control_on.row.has_switch() || self.status.row.has_switch()
    }

    /// How a plug of this family is written in list output.
    pub fn plug_id(&self, row: &Row) -> String {
        let plug = row
            .plug
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".");
        if self.switched() && (self.unit_in_ids || row.switch != 1) {
            format!("{}:{plug}", row.switch)
        } else {
            plug
        }
    }

    /// An outlet's name as the family writes it in its names column: one pair of quotes
    /// taken off (`unquote_names`), the first field of a record (`name_first_field`).
    pub fn outlet_name(&self, text: &str) -> String {
        let t = if self.unquote_names {
            text.trim_matches('"')
        } else {
            text
        };
        match self.name_first_field {
            true => t.split(',').next().unwrap_or_default().trim().to_string(),
            false => t.to_string(),
        }
    }

    /// The meaning of a status value: Some(true) on, Some(false) off, None unknown.
    pub fn state_of(&self, v: i64) -> Option<bool> {
        if self.on.contains(&v) {
            Some(true)
        } else if self.off.contains(&v) {
            Some(false)
        } else {
            None
        }
    }

    /// The names column and the status column can be walked together when their rows
    /// are the same (list-status in one walk).
    pub fn status_walks_with_names(&self) -> bool {
        self.names
            .as_ref()
            .is_some_and(|n| n.row == self.status.row)
    }
}

// ---- as Rust source, for build.rs -------------------------------------------------------

/// Rust expressions of family values: build.rs turns each built-in family file into code
/// that builds the `Family` (checked at build time, no parsing at run time).
fn oid_code(oid: &[u64]) -> String {
    format!("vec!{oid:?}")
}

fn column_code(c: &Column) -> String {
    let parts: Vec<String> = c
        .row
        .0
        .iter()
        .map(|p| format!("crate::snmp::family::Part::{p:?}"))
        .collect();
    format!(
        "crate::snmp::family::Column {{ oid: {}, row: crate::snmp::family::RowPattern(vec![{}]) }}",
        oid_code(&c.oid),
        parts.join(", ")
    )
}

fn option_code<T>(v: &Option<T>, code: impl Fn(&T) -> String) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_string(), |x| format!("Some({})", code(x)))
}

fn reading_code(r: &Reading) -> String {
    format!(
        "crate::snmp::family::Reading {{ column: {}, scale: {:?}, digits: {}, outlet: {} }}",
        column_code(&r.column),
        r.scale,
        option_code(&r.digits, column_code),
        option_code(&r.outlet, column_code)
    )
}

fn meter_code(m: &Meter) -> String {
    let r = |r: &Option<Reading>| option_code(r, reading_code);
    format!(
        "crate::snmp::family::Meter {{ outlet_current: {}, outlet_power: {}, outlet_energy: {}, \
         input_current: {}, input_power: {}, input_energy: {} }}",
        r(&m.outlet_current),
        r(&m.outlet_power),
        r(&m.outlet_energy),
        r(&m.input_current),
        r(&m.input_power),
        r(&m.input_energy)
    )
}

impl Family {
    /// Rust source of an expression that builds this family.
    pub fn to_rust(&self) -> String {
        let oids = |v: &[Vec<u64>]| {
            let items: Vec<String> = v.iter().map(|o| oid_code(o)).collect();
            format!("vec![{}]", items.join(", "))
        };
        format!(
            "crate::snmp::family::Family {{ name: String::from({:?}), vendor: String::from({:?}), \
             description: String::from({:?}), sysobjectid: {}, sysobjectid_prefix: {}, \
             status: {}, control_on: {}, control_off: {}, control_cycle: {}, names: {}, \
             alias: {}, list_ids_are_names: {}, on: vec!{:?}, off: vec!{:?}, set_on: {}, \
             set_off: {}, cycle: {:?}, unquote_names: {}, unit_in_ids: {}, packed: {}, \
             name_first_field: {}, plug_form: {}, meter: {}, confirm: {} }}",
            self.name,
            self.vendor,
            self.description,
            oids(&self.sysobjectid),
            oids(&self.sysobjectid_prefix),
            column_code(&self.status),
            column_code(&self.control_on),
            column_code(&self.control_off),
            option_code(&self.control_cycle, column_code),
            option_code(&self.names, column_code),
            option_code(&self.alias, column_code),
            self.list_ids_are_names,
            self.on,
            self.off,
            self.set_on,
            self.set_off,
            self.cycle,
            self.unquote_names,
            self.unit_in_ids,
            self.packed,
            self.name_first_field,
            option_code(&self.plug_form, |s| format!("String::from({s:?})")),
            meter_code(&self.meter),
            option_code(&self.confirm, |c| format!(
                "crate::snmp::family::Confirm {{ object: {}, contains: vec![{}] }}",
                column_code(&c.object),
                c.contains
                    .iter()
                    .map(|w| format!("String::from({w:?})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        )
    }
}

// ---- the data files -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    column: String,
    #[serde(default = "plug_row", deserialize_with = "row_pattern")]
    row: RowPattern,
}

fn plug_row() -> RowPattern {
    RowPattern(vec![Part::Plug(0)])
}

/// Patterns are checked as they are read, so that a site file's error names the line.
fn row_pattern<'de, D: Deserializer<'de>>(d: D) -> Result<RowPattern, D::Error> {
    let text = String::deserialize(d)?;
    RowPattern::parse(&text).map_err(serde::de::Error::custom)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyFile {
    name: String,
    vendor: String,
    description: String,
    #[serde(default)]
    sysobjectid: Vec<String>,
    #[serde(default)]
    sysobjectid_prefix: Vec<String>,
    status: ColumnFile,
    control: Option<ColumnFile>,
    control_on: Option<ColumnFile>,
    control_off: Option<ColumnFile>,
    control_cycle: Option<ColumnFile>,
    names: Option<ColumnFile>,
    alias: Option<ColumnFile>,
    #[serde(default)]
    list_ids_are_names: bool,
    on: Vec<i64>,
    off: Vec<i64>,
    set_on: i64,
    set_off: i64,
    cycle: Option<i64>,
    #[serde(default)]
    unquote_names: bool,
    #[serde(default = "yes")]
    unit_in_ids: bool,
    #[serde(default)]
    packed: bool,
    #[serde(default)]
    name_first_field: bool,
    plug_form: Option<String>,
    #[serde(default)]
    meter: MeterFile,
    confirm: Option<ConfirmFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmFile {
    column: String,
    row: String,
    #[serde(default)]
    contains: Vec<String>,
}

/// A metered quantity as a family file writes it. Outlet readings default to the
/// outlet's number as row; the device's input is one object, so its row is written out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingFile {
    column: String,
    #[serde(default, deserialize_with = "some_row_pattern")]
    row: Option<RowPattern>,
    #[serde(default = "one")]
    scale: f64,
    /// A column of decimal digits with the same rows (value = raw / 10^digits).
    digits: Option<String>,
    /// A column with the same rows holding each row's outlet number (the rows are a
    /// table's entries, not outlets).
    outlet_column: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn some_row_pattern<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RowPattern>, D::Error> {
    row_pattern(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeterFile {
    outlet_current: Option<ReadingFile>,
    outlet_power: Option<ReadingFile>,
    outlet_energy: Option<ReadingFile>,
    input_current: Option<ReadingFile>,
    input_power: Option<ReadingFile>,
    input_energy: Option<ReadingFile>,
}

fn reading(family: &str, field: &str, r: ReadingFile, outlet: bool) -> Result<Reading, String> {
    let outlet_reading = outlet;
    let row = match (r.row, outlet) {
        (Some(row), _) => row,
        (None, true) => plug_row(),
        (None, false) => {
            return Err(format!(
                "family {family}: meter.{field} needs a row (the input is one object, e.g. row = \"0\")"
            ))
        }
    };
    if row.has_plug() != outlet || (!outlet && row.has_switch()) {
        return Err(format!(
            "family {family}: meter.{field} row must {} a {{plug}} or {{path}}",
            if outlet {
                "have"
            } else {
                "be numbers only, without"
            }
        ));
    }
    if !(r.scale.is_finite() && r.scale > 0.0) {
        return Err(format!(
            "family {family}: meter.{field} scale must be a positive number"
        ));
    }
    let column = Column {
        oid: oid_field(family, &format!("meter.{field}"), &r.column)?,
        row: row.clone(),
    };
    let same_rows = |what: &str, c: Option<String>| {
        c.map(|c| {
            Ok::<_, String>(Column {
                oid: oid_field(family, &format!("meter.{field} {what}"), &c)?,
                row: row.clone(),
            })
        })
        .transpose()
    };
    let digits = same_rows("digits", r.digits)?;
    let outlet = same_rows("outlet_column", r.outlet_column)?;
    if outlet.is_some() && !outlet_reading {
        return Err(format!(
            "family {family}: meter.{field}: outlet_column is for outlet readings"
        ));
    }
    Ok(Reading {
        column,
        scale: r.scale,
        digits,
        outlet,
    })
}

impl MeterFile {
    fn into_meter(self, family: &str) -> Result<Meter, String> {
        let read = |field: &str, r: Option<ReadingFile>, outlet: bool| {
            r.map(|r| reading(family, field, r, outlet)).transpose()
        };
        Ok(Meter {
            outlet_current: read("outlet_current", self.outlet_current, true)?,
            outlet_power: read("outlet_power", self.outlet_power, true)?,
            outlet_energy: read("outlet_energy", self.outlet_energy, true)?,
            input_current: read("input_current", self.input_current, false)?,
            input_power: read("input_power", self.input_power, false)?,
            input_energy: read("input_energy", self.input_energy, false)?,
        })
    }
}

fn yes() -> bool {
    true
}

fn oid_field(family: &str, field: &str, s: &str) -> Result<Vec<u64>, String> {
    parse_oid(s).ok_or_else(|| format!("family {family}: {field} '{s}' is not a numeric OID"))
}

/// Every column must say where the outlet is, unless the family packs all outlets of a
/// unit into one value.
fn check_rows(f: &Family) -> Result<(), String> {
    let mut cols = vec![("names", f.names.as_ref()), ("alias", f.alias.as_ref())];
    if !f.packed {
        cols.extend([
            ("status", Some(&f.status)),
            ("control_on", Some(&f.control_on)),
            ("control_off", Some(&f.control_off)),
        ]);
    }
    for (field, c) in cols {
        if c.is_some_and(|c| !c.row.has_plug()) {
            return Err(format!(
                "family {}: {field} row has no {{plug}} or {{path}}",
                f.name
            ));
        }
    }
    Ok(())
}

/// `{pN}` takes the Nth number of a plug written in the plug form: the form must have it.
fn check_components(f: &Family) -> Result<(), String> {
    let numbers = f.plug_form.as_ref().map_or(0, |p| p.matches("{}").count());
    let cols = [
        ("status", Some(&f.status)),
        ("control_on", Some(&f.control_on)),
        ("control_off", Some(&f.control_off)),
        ("control_cycle", f.control_cycle.as_ref()),
        ("names", f.names.as_ref()),
        ("alias", f.alias.as_ref()),
    ];
    for (field, c) in cols {
        if let Some(i) = c
            .and_then(|c| c.row.max_component())
            .filter(|i| *i >= numbers)
        {
            return Err(format!(
                "family {}: {field} row uses {{p{i}}}, but plug_form {} has {numbers} number(s) ({{}})",
                f.name,
                f.plug_form.as_deref().map_or("(none)".into(), |p| format!("'{p}'"))
            ));
        }
    }
    Ok(())
}

fn column(family: &str, field: &str, c: ColumnFile) -> Result<Column, String> {
    Ok(Column {
        oid: oid_field(family, field, &c.column)?,
        row: c.row,
    })
}

/// A confirm object: one object (its row numbers only), and the words it may hold.
fn confirm(family: &str, c: ConfirmFile) -> Result<Confirm, String> {
    let row = RowPattern::parse(&c.row).map_err(|e| format!("family {family}: confirm {e}"))?;
    if row.has_plug() || row.has_switch() {
        return Err(format!(
            "family {family}: confirm names one object: its row is numbers only (row = \"0.1\")"
        ));
    }
    Ok(Confirm {
        object: Column {
            oid: oid_field(family, "confirm", &c.column)?,
            row,
        },
        contains: c.contains,
    })
}

impl FamilyFile {
    pub fn into_family(self) -> Result<Family, String> {
        let n = self.name.clone();
        let (on, off) = match (self.control, self.control_on, self.control_off) {
            (Some(c), None, None) => (
                ColumnFile {
                    column: c.column.clone(),
                    row: c.row.clone(),
                },
                c,
            ),
            (None, Some(on), Some(off)) => (on, off),
            _ => {
                return Err(format!(
                    "family {n}: give either control, or both control_on and control_off"
                ))
            }
        };
        let f = Family {
            sysobjectid: self
                .sysobjectid
                .iter()
                .map(|s| oid_field(&n, "sysobjectid", s))
                .collect::<Result<_, _>>()?,
            sysobjectid_prefix: self
                .sysobjectid_prefix
                .iter()
                .map(|s| oid_field(&n, "sysobjectid_prefix", s))
                .collect::<Result<_, _>>()?,
            status: column(&n, "status", self.status)?,
            control_on: column(&n, "control_on", on)?,
            control_off: column(&n, "control_off", off)?,
            control_cycle: self
                .control_cycle
                .map(|c| column(&n, "control_cycle", c))
                .transpose()?,
            names: self.names.map(|c| column(&n, "names", c)).transpose()?,
            alias: self.alias.map(|c| column(&n, "alias", c)).transpose()?,
            list_ids_are_names: self.list_ids_are_names,
            on: self.on,
            off: self.off,
            set_on: self.set_on,
            set_off: self.set_off,
            cycle: self.cycle,
            unquote_names: self.unquote_names,
            unit_in_ids: self.unit_in_ids,
            packed: self.packed,
            name_first_field: self.name_first_field,
            plug_form: self.plug_form,
            meter: self.meter.into_meter(&n)?,
            confirm: self.confirm.map(|c| confirm(&n, c)).transpose()?,
            name: self.name,
            vendor: self.vendor,
            description: self.description,
        };
        check_rows(&f)?;
        check_components(&f)?;
        Ok(f)
    }
}

/// The families a sysObjectID may mean, most likely first: exact matches in the order
/// given, then prefix matches, longest prefix first.
pub fn ranked<'a>(families: &'a [Family], sysobjectid: &[u64]) -> Vec<&'a Family> {
    let mut exact: Vec<&Family> = families
        .iter()
        .filter(|f| f.sysobjectid.iter().any(|o| o == sysobjectid))
        .collect();
    let mut prefixed: Vec<(usize, &Family)> = families
        .iter()
        .filter(|f| !exact.iter().any(|e| std::ptr::eq(*e, *f)))
        .filter_map(|f| {
            f.sysobjectid_prefix
                .iter()
                .filter(|p| sysobjectid.starts_with(p))
                .map(Vec::len)
                .max()
                .map(|len| (len, f))
        })
        .collect();
    prefixed.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    exact.extend(prefixed.into_iter().map(|(_, f)| f));
    exact
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(switch: u64, plug: &[u64]) -> Row {
        Row {
            switch,
            plug: plug.to_vec(),
        }
    }

    #[test]
    fn plug_forms() {
        assert_eq!(parse_plug_form("fc{}/{}", "fc1/3"), Some(vec![1, 3]));
        assert_eq!(parse_plug_form("fc{}/{}", "FC12/48"), Some(vec![12, 48]));
        assert_eq!(parse_plug_form("fc{}/{}", "fc1/"), None);
        assert_eq!(parse_plug_form("fc{}/{}", "fc1/3x"), None);
        assert_eq!(parse_plug_form("fc{}/{}", "eth1/3"), None);
        let p = RowPattern::parse("{p0+21}.{p1-1}").unwrap();
        let r = Row {
            switch: 1,
            plug: vec![1, 3],
        };
        assert_eq!(p.render(&r), Some(vec![22, 2]));
        assert_eq!(p.parse_suffix(&[22, 2]), Some(r));
    }

    #[test]
    fn patterns_render_and_parse_back() {
        let p = RowPattern::parse("{plug}").unwrap();
        assert_eq!(p.render(&row(1, &[5])), Some(vec![5]));
        assert_eq!(p.parse_suffix(&[5]), Some(row(1, &[5])));

        let p = RowPattern::parse("{switch}.1.{plug}").unwrap();
        assert!(p.has_switch());
        assert_eq!(p.render(&row(2, &[7])), Some(vec![2, 1, 7]));
        assert_eq!(p.parse_suffix(&[2, 1, 7]), Some(row(2, &[7])));
        assert_eq!(p.parse_suffix(&[2, 9, 7]), None);

        let p = RowPattern::parse("{plug-1}").unwrap();
        assert_eq!(p.render(&row(1, &[1])), Some(vec![0]));
        assert_eq!(p.render(&row(1, &[0])), None, "no negative index");
        assert_eq!(p.parse_suffix(&[0]), Some(row(1, &[1])));

        let p = RowPattern::parse("{plug+1}.0").unwrap();
        assert_eq!(p.render(&row(1, &[3])), Some(vec![4, 0]));
        assert_eq!(p.parse_suffix(&[4, 0]), Some(row(1, &[3])));

        let p = RowPattern::parse("{path}").unwrap();
        assert_eq!(p.render(&row(1, &[1, 1, 3])), Some(vec![1, 1, 3]));
        assert_eq!(p.parse_suffix(&[1, 1, 3]), Some(row(1, &[1, 1, 3])));

        assert!(RowPattern::parse("{plug}.x").is_err());
    }

    /// Site files are written by hand: every malformed pattern is an error that says
    /// what is wrong, never a panic (these used to slice inside a character, or were
    /// accepted and then overflowed or indexed past a device's suffix).
    #[test]
    fn malformed_patterns_are_refused() {
        for (bad, why) in [
            ("{p\u{e9}}", "bad component"),
            ("{p\u{e9}\u{e9}}", "bad component"),
            ("{p}", "bad component"),
            ("{p16}", "bad component"),
            ("{p18446744073709551616}", "bad component"),
            ("{p0+}", "bad offset"),
            ("{plug5}", "bad offset"),
            ("{plug++5}", "bad offset"),
            ("{plug+99999999999999999999}", "out of range"),
            ("{path}.{path}", "not several"),
            ("{plug}.{path}", "not several"),
            ("{plug}.{plug+1}", "not several"),
            ("{p0}.{plug}", "not several"),
            ("{p1}.{p1}", "more than once"),
            ("{switch}.{switch}.{plug}", "more than once"),
            ("+5.{plug}", "is not a number"),
            ("", "is not a number"),
            ("{}", "is not a number"),
            ("{plug", "is not a number"),
            ("\u{e9}", "is not a number"),
            ("18446744073709551616.{plug}", "is not a number"),
        ] {
            let err = RowPattern::parse(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn offsets_at_the_ends_of_the_range_do_not_overflow() {
        let p = RowPattern::parse("{plug+9223372036854775807}").unwrap();
        assert_eq!(p.render(&row(1, &[u64::MAX])), None);
        assert_eq!(p.render(&row(1, &[1])), Some(vec![1 << 63]));
        assert_eq!(p.parse_suffix(&[1 << 63]), Some(row(1, &[1])));
        assert_eq!(p.parse_suffix(&[0]), None);
        let p = RowPattern::parse("{plug-9223372036854775808}").unwrap();
        assert_eq!(p.render(&row(1, &[0])), None);
        assert_eq!(p.parse_suffix(&[u64::MAX]), None);
        let p = RowPattern::parse("{p0-9223372036854775808}.{p1+9223372036854775807}").unwrap();
        assert_eq!(p.render(&row(1, &[1, u64::MAX])), None);
        assert_eq!(p.parse_suffix(&[u64::MAX, 0]), None);
        // Arcs above i64::MAX are rows like any other.
        let p = RowPattern::parse("{plug}").unwrap();
        assert_eq!(p.parse_suffix(&[u64::MAX]), Some(row(1, &[u64::MAX])));
    }

    /// Suffixes come from the device: any length and any values give a row that renders
    /// back to them, or None.
    #[test]
    fn device_suffixes_never_index_past_the_end() {
        let patterns = [
            "{path}",
            "{switch}.{path}",
            "1.{path}.0",
            "{switch}.1.{plug}",
            "{p0+21}.{p1-1}",
            "{p3}",
            "{switch}.13.0",
        ];
        let values = [0, 1, 13, 21, u64::MAX];
        for text in patterns {
            let p = RowPattern::parse(text).unwrap();
            for len in 0..6 {
                for v in values {
                    let suffix = vec![v; len];
                    if let Some(r) = p.parse_suffix(&suffix) {
                        assert_eq!(p.render(&r), Some(suffix), "{text}");
                    }
                }
            }
        }
        let p = RowPattern::parse("1.{path}.0").unwrap();
        assert_eq!(p.parse_suffix(&[1, 0]), None, "no room for the path");
        assert_eq!(p.parse_suffix(&[1, 7, 0]), Some(row(1, &[7])));
        assert_eq!(p.parse_suffix(&[2, 7, 0]), None);
        let p = RowPattern::parse("{p3}").unwrap();
        assert_eq!(p.parse_suffix(&[9]), Some(row(1, &[0, 0, 0, 9])));
    }

    #[test]
    fn plug_forms_survive_odd_text() {
        for text in [
            "",
            "fc",
            "fc/",
            "fc\u{e9}1/2",
            "fc99999999999999999999/1",
            "FC1/2/3",
        ] {
            assert_eq!(parse_plug_form("fc{}/{}", text), None, "{text}");
        }
        assert_eq!(parse_plug_form("{}{}", "12"), None);
        assert_eq!(
            parse_plug_form("\u{e9}{}", "\u{c9}1"),
            None,
            "only ASCII case folds"
        );
        assert_eq!(parse_plug_form("\u{e9}{}", "\u{e9}1"), Some(vec![1]));
        assert_eq!(parse_plug_form("{}", "7"), Some(vec![7]));
    }
}
