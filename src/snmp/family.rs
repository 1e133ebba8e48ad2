//! SNMP device families as data: which sysObjectIDs a family answers to, where its
//! outlet state, control and names live, and what the values mean.
//!
//! An outlet is a *row*: the OID suffix that follows a column. A row pattern says how a
//! user's plug maps to that suffix: `{plug}` (the outlet number), `{plug-1}` (0-based
//! devices), `{switch}.1.{plug}` (daisy-chained units), `{path}` (a dotted id such as
//! `1.1.3`), plus literal numbers. Each column may have its own pattern.

use serde::Deserialize;

use crate::snmp::oid::parse_oid;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(u64),
    Plug(i64),
    Switch,
    Path,
    /// Component N of a plug written in the family's plug form, plus an offset.
    Component(usize, i64),
}

/// How a plug becomes the OID suffix of one column, and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPattern(Vec<Part>);

/// A resolved outlet: the unit (switch) and the outlet number or dotted path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    pub switch: u64,
    pub plug: Vec<u64>,
}

impl RowPattern {
    pub fn parse(s: &str) -> Result<RowPattern, String> {
        let mut parts = Vec::new();
        for p in s.split('.') {
            let part = match p {
                "{plug}" => Part::Plug(0),
                "{switch}" => Part::Switch,
                "{path}" => Part::Path,
                _ if p.starts_with("{p") && p.ends_with('}') && p[2..3].chars().all(|c| c.is_ascii_digit()) => {
                    let inner = &p[2..p.len() - 1];
                    let split = inner.find(['+', '-']).unwrap_or(inner.len());
                    let index: usize = inner[..split].parse().map_err(|_| format!("bad component in '{p}'"))?;
                    let off: i64 = if split < inner.len() {
                        inner[split..].trim_start_matches('+').parse().map_err(|_| format!("bad offset in '{p}'"))?
                    } else {
                        0
                    };
                    Part::Component(index, off)
                }
                _ if p.starts_with("{plug") && p.ends_with('}') => {
                    let off = &p[5..p.len() - 1];
                    let n: i64 = off.trim_start_matches('+').parse().map_err(|_| format!("bad offset in '{p}'"))?;
                    Part::Plug(n)
                }
                _ => Part::Literal(p.parse().map_err(|_| format!("'{p}' is neither a number nor {{plug}}, {{plug+N}}, {{plug-N}}, {{switch}}, {{path}}"))?),
            };
            parts.push(part);
        }
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

    /// The suffix for `row`; None when an offset would make it negative.
    pub fn render(&self, row: &Row) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Part::Literal(n) => out.push(*n),
                Part::Switch => out.push(row.switch),
                Part::Path => out.extend(&row.plug),
                Part::Plug(off) => {
                    let n = i64::try_from(*row.plug.last()?).ok()? + off;
                    out.push(u64::try_from(n).ok()?);
                }
                Part::Component(i, off) => {
                    let n = i64::try_from(*row.plug.get(*i)?).ok()? + off;
                    out.push(u64::try_from(n).ok()?);
                }
            }
        }
        Some(out)
    }

    /// The row a suffix stands for (the inverse of `render`).
    pub fn parse_suffix(&self, suffix: &[u64]) -> Option<Row> {
        let mut row = Row {
            switch: 1,
            plug: Vec::new(),
        };
        if self.is_path() {
            let fixed = self.0.len() - 1;
            if suffix.len() <= fixed {
                return None;
            }
            let mut i = 0;
            for p in &self.0 {
                match p {
                    Part::Path => {
                        let take = suffix.len() - fixed;
                        row.plug = suffix[i..i + take].to_vec();
                        i += take;
                    }
                    Part::Literal(n) if suffix[i] == *n => i += 1,
                    Part::Switch => {
                        row.switch = suffix[i];
                        i += 1;
                    }
                    _ => return None,
                }
            }
            return Some(row);
        }
        if suffix.len() != self.0.len() {
            return None;
        }
        for (p, &v) in self.0.iter().zip(suffix) {
            match p {
                Part::Literal(n) if *n == v => {}
                Part::Literal(_) => return None,
                Part::Switch => row.switch = v,
                Part::Plug(off) => {
                    let n = i64::try_from(v).ok()? - off;
                    row.plug = vec![u64::try_from(n).ok()?];
                }
                Part::Component(i, off) => {
                    let n = u64::try_from(i64::try_from(v).ok()? - off).ok()?;
                    if row.plug.len() <= *i {
                        row.plug.resize(*i + 1, 0);
                    }
                    row.plug[*i] = n;
                }
                Part::Path => {}
            }
        }
        Some(row)
    }
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
}

/// Read a plug written in a plug form (`fc{}/{}`): the numbers in place of `{}`, the rest
/// matched without regard to case.
pub fn parse_plug_form(form: &str, text: &str) -> Option<Vec<u64>> {
    let pieces: Vec<&str> = form.split("{}").collect();
    let lower = text.trim().to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mut numbers = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        rest = rest.strip_prefix(piece.to_ascii_lowercase().as_str())?;
        if i + 1 == pieces.len() {
            break;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        numbers.push(rest[..digits].parse().ok()?);
        rest = &rest[digits..];
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

// ---- the data files -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    column: String,
    #[serde(default = "plug_row")]
    row: String,
}

fn plug_row() -> String {
    "{plug}".into()
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

fn column(family: &str, field: &str, c: ColumnFile) -> Result<Column, String> {
    Ok(Column {
        oid: oid_field(family, field, &c.column)?,
        row: RowPattern::parse(&c.row).map_err(|e| format!("family {family}: {field}: {e}"))?,
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
            name: self.name,
            vendor: self.vendor,
            description: self.description,
        };
        check_rows(&f)?;
        Ok(f)
    }
}

/// Pick the family for a device's sysObjectID: an exact match first, then the longest
/// matching prefix.
pub fn detect<'a>(families: &'a [Family], sysobjectid: &[u64]) -> Option<&'a Family> {
    families
        .iter()
        .find(|f| f.sysobjectid.iter().any(|o| o == sysobjectid))
        .or_else(|| {
            families
                .iter()
                .flat_map(|f| f.sysobjectid_prefix.iter().map(move |p| (p, f)))
                .filter(|(p, _)| sysobjectid.starts_with(p))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, f)| f)
        })
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
}
