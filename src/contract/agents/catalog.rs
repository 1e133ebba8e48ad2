//! The SNMP device families a call may use: the built-in ones (compiled by build.rs,
//! decoded only when a call needs them) and the `[[family]]` tables of the site's family
//! files, read with the TOML parser and checked whole when the catalog is loaded.
//!
//! A site file that cannot be used affects only what it defines: its problem is a
//! warning naming file and line, and an error only for a call that needs one of its
//! families (by name, or because the device's sysObjectID is one it names). A file that
//! is not TOML at all defines nothing we can know; it stops detection only for a device
//! whose sysObjectID its text mentions, as that device might be one of its families.

use super::{builtin_family, one_line_error, SiteFile, BUILTIN_FAMILIES};
use crate::snmp::family::{Family, FamilyFile};
use crate::snmp::oid::{format_oid, parse_oid};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FamiliesFile {
    family: Vec<toml::Spanned<FamilyFile>>,
}

/// The line (from 1) of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.matches('\n').count().saturating_add(1)
}

/// The families of one family file (TOML), each with the line its table starts on;
/// `origin` names the file in errors.
pub(super) fn parse_families(origin: &str, text: &str) -> Result<Vec<(usize, Family)>, String> {
    let f: FamiliesFile = toml::from_str(text).map_err(|e| one_line_error(origin, text, &e))?;
    f.family
        .into_iter()
        .map(|x| {
            let line = line_of(text, x.span().start);
            x.into_inner()
                .into_family()
                .map(|f| (line, f))
                .map_err(|e| format!("{origin}: line {line}: {e}"))
        })
        .collect()
}

/// A site family's name and sysObjectIDs, read leniently from a file whose families
/// cannot be used, so that calls needing it fail instead of going past it.
#[derive(Debug)]
struct Intended {
    name: String,
    exact: Vec<Vec<u64>>,
    prefixes: Vec<Vec<u64>>,
}

/// Site families that cannot be used, and why.
#[derive(Debug)]
struct Broken {
    /// One line naming the file (and line).
    error: String,
    /// What it meant to define, as far as its TOML could be read.
    intended: Vec<Intended>,
    /// The text of a file that is not TOML at all.
    text: Option<String>,
}

/// How closely a family names a sysObjectID: an exact match beats every prefix, a
/// longer prefix a shorter one (as `family::ranked` orders them).
fn closeness(exact: &[Vec<u64>], prefixes: &[Vec<u64>], oid: &[u64]) -> Option<usize> {
    if exact.iter().any(|o| o == oid) {
        return Some(usize::MAX);
    }
    prefixes
        .iter()
        .filter(|p| oid.starts_with(p))
        .map(Vec::len)
        .max()
}

fn strings(t: &toml::Table, key: &str) -> Vec<String> {
    t.get(key)
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(toml::Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What the `[[family]]` tables of a readable TOML file intend, whatever else is wrong.
fn intended(t: &toml::Table) -> Vec<Intended> {
    let oids = |t: &toml::Table, key: &str| -> Vec<Vec<u64>> {
        strings(t, key)
            .iter()
            .filter_map(|s| parse_oid(s))
            .collect()
    };
    t.get("family")
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(toml::Value::as_table)
                .map(|f| Intended {
                    name: f
                        .get("name")
                        .and_then(toml::Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    exact: oids(f, "sysobjectid"),
                    prefixes: oids(f, "sysobjectid_prefix"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The known families: the built-in ones (compiled by build.rs) and the site's.
pub struct FamilyCatalog {
    /// Usable site families: well formed, names unique and not built in.
    site: Vec<(String, Family)>,
    broken: Vec<Broken>,
    /// Problems that make no family unusable (a copy of a built-in name, an unreadable
    /// file): warnings only.
    notes: Vec<String>,
}

impl FamilyCatalog {
    /// The site's family files, read once with the registry. Problems become warnings,
    /// logged by each call that looks up a family (see the module comment); a call fails
    /// only where it needs what a broken file defines, and then says so as its error.
    pub(super) fn from_files(files: &[SiteFile]) -> FamilyCatalog {
        let mut catalog = FamilyCatalog {
            site: Vec::new(),
            broken: Vec::new(),
            notes: Vec::new(),
        };
        // Where each site family was defined, for duplicates.
        let mut defined: Vec<(String, String)> = Vec::new();
        for (origin, text) in files {
            catalog.read_file(origin, text.clone(), &mut defined);
        }
        catalog
    }

    /// Log the warnings into the call's log, except the one a failing lookup returns in
    /// its error.
    fn warn(&self, except: Option<&str>) {
        let broken = self.broken.iter().map(|b| b.error.as_str());
        for w in self.notes.iter().map(String::as_str).chain(broken) {
            if !except.is_some_and(|e| e.contains(w)) {
                log_warning!("{w}");
            }
        }
    }

    /// A lookup's result, after the warnings it leaves.
    fn warned<T>(&self, r: Result<T, String>) -> Result<T, String> {
        self.warn(r.as_ref().err().map(String::as_str));
        r
    }

    fn read_file(
        &mut self,
        origin: &str,
        text: Result<String, String>,
        defined: &mut Vec<(String, String)>,
    ) {
        let text = match text {
            Ok(t) => t,
            Err(error) => {
                // Unreadable: what it defines is unknown, and so is which device it is for.
                self.notes
                    .push(format!("{error}; if it holds families, they are not used"));
                return;
            }
        };
        let table = match text.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                self.broken.push(Broken {
                    error: format!(
                        "{}; nothing in it is used",
                        one_line_error(origin, &text, &e)
                    ),
                    intended: Vec::new(),
                    text: Some(text),
                });
                return;
            }
        };
        if !table.contains_key("family") {
            return; // an agent file
        }
        match parse_families(origin, &text) {
            Ok(families) => {
                for (line, f) in families {
                    self.add(format!("{origin}: line {line}"), f, defined);
                }
            }
            Err(error) => self.broken.push(Broken {
                error: format!("{error}; the families of this file are not used"),
                // A built-in name stays the built-in family's (as for a well-formed file).
                intended: intended(&table)
                    .into_iter()
                    .filter(|i| !BUILTIN_FAMILIES.iter().any(|b| b.name == i.name))
                    .collect(),
                text: None,
            }),
        }
    }

    /// One well-formed site family, unless its name is taken.
    fn add(&mut self, at: String, f: Family, defined: &mut Vec<(String, String)>) {
        if BUILTIN_FAMILIES.iter().any(|b| b.name == f.name) {
            // Built-in agents go on with the built-in family of that name.
            self.notes.push(format!(
                "{at}: family {} is built in; this site family is not used (give it another name)",
                f.name
            ));
            return;
        }
        let intends = |f: &Family| Intended {
            name: f.name.clone(),
            exact: f.sysobjectid.clone(),
            prefixes: f.sysobjectid_prefix.clone(),
        };
        if let Some((_, first)) = defined.iter().find(|(n, _)| *n == f.name) {
            // Which one was meant is unknown: neither is used.
            let mut intended = vec![intends(&f)];
            if let Some(i) = self.site.iter().position(|(n, _)| *n == f.name) {
                intended.push(intends(&self.site.remove(i).1));
            }
            self.broken.push(Broken {
                error: format!(
                    "{at}: family {} is also defined at {first}; neither is used (rename or remove one)",
                    f.name
                ),
                intended,
                text: None,
            });
            return;
        }
        defined.push((f.name.clone(), at));
        self.site.push((f.name.clone(), f));
    }

    /// Every usable family, built in first.
    pub fn all(&self) -> Result<Vec<Family>, String> {
        self.warn(None);
        let builtin = BUILTIN_FAMILIES.iter().map(|b| Ok(builtin_family(b)));
        let site = self.site.iter().map(|(_, f)| Ok(f.clone()));
        builtin.chain(site).collect()
    }

    /// Every family name a call may ask for, those of broken site files included (asking
    /// for one of those gives its error).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = BUILTIN_FAMILIES.iter().map(|b| b.name).collect();
        names.extend(self.site.iter().map(|(n, _)| n.as_str()));
        for i in self.broken.iter().flat_map(|b| &b.intended) {
            if !i.name.is_empty() && !names.contains(&i.name.as_str()) {
                names.push(&i.name);
            }
        }
        names
    }

    pub fn by_name(&self, name: &str) -> Result<Option<Family>, String> {
        self.warned(self.find_by_name(name))
    }

    fn find_by_name(&self, name: &str) -> Result<Option<Family>, String> {
        if let Some(b) = BUILTIN_FAMILIES.iter().find(|b| b.name == name) {
            return Ok(Some(builtin_family(b)));
        }
        // A broken file that meant this name too makes it ambiguous.
        if let Some(b) = self
            .broken
            .iter()
            .find(|b| b.intended.iter().any(|i| i.name == name))
        {
            return Err(b.error.clone());
        }
        Ok(self
            .site
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f.clone()))
    }

    /// The family for a sysObjectID among `allowed` (None: all). Only the built-in
    /// families that name the OID or one of its prefixes are decoded. A broken site
    /// family that would match at least as closely as the one found is an error: going
    /// past it could drive the device with another family's OIDs.
    pub fn detect(
        &self,
        allowed: Option<&[String]>,
        oid: &[u64],
    ) -> Result<Option<Family>, String> {
        self.detect_ranked(allowed, oid)
            .map(|ranked| ranked.into_iter().next())
    }

    /// Every family the sysObjectID may mean, most likely first (see `detect`); the
    /// caller confirms them in turn where a family asks (`confirm`).
    pub fn detect_ranked(
        &self,
        allowed: Option<&[String]>,
        oid: &[u64],
    ) -> Result<Vec<Family>, String> {
        self.warned(self.find_for_device(allowed, oid))
    }

    fn find_for_device(
        &self,
        allowed: Option<&[String]>,
        oid: &[u64],
    ) -> Result<Vec<Family>, String> {
        let is_allowed = |name: &str| allowed.is_none_or(|a| a.iter().any(|n| n == name));
        let dotted = dotted_prefixes(oid);
        let mut candidates = Vec::new();
        for b in BUILTIN_FAMILIES {
            if is_allowed(b.name) && b.oids.iter().any(|o| dotted.iter().any(|d| d == o)) {
                candidates.push(builtin_family(b));
            }
        }
        for (name, f) in &self.site {
            if is_allowed(name) && closeness(&f.sysobjectid, &f.sysobjectid_prefix, oid).is_some() {
                candidates.push(f.clone());
            }
        }
        let mut ranked: Vec<Family> = crate::snmp::family::ranked(&candidates, oid)
            .into_iter()
            .cloned()
            .collect();
        let close_of = |f: &Family| closeness(&f.sysobjectid, &f.sysobjectid_prefix, oid);
        for b in &self.broken {
            let close = match &b.text {
                // Its families are unknown: they could be any the agent allows.
                Some(text) if allowed.is_none() => mentioned(text, &dotted, oid.len()),
                Some(_) => None,
                None => b
                    .intended
                    .iter()
                    .filter(|i| is_allowed(&i.name))
                    .filter_map(|i| closeness(&i.exact, &i.prefixes, oid))
                    .max(),
            };
            let Some(c) = close else { continue };
            // Only families that match more closely than the broken file come before it:
            // a family its confirm object rules out must not hand the device to one the
            // broken file might have beaten.
            ranked.retain(|f| close_of(f).is_some_and(|f| f > c));
            if ranked.is_empty() {
                return Err(format!(
                    "{} (it may describe this device, sysObjectID {}: fix the file, or pick a family with family=NAME)",
                    b.error,
                    format_oid(oid)
                ));
            }
        }
        Ok(ranked)
    }
}

/// The OID and its prefixes down to an enterprise number, dotted without a leading dot
/// (as build.rs indexes the built-in families), longest first.
fn dotted_prefixes(oid: &[u64]) -> Vec<String> {
    (7.min(oid.len())..=oid.len())
        .rev()
        .filter_map(|n| oid.get(..n))
        .map(|p| p.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
        .collect()
}

/// How closely a text that is not TOML names the OID: the longest of the OID and its
/// prefixes that it quotes (in either quotes, with or without a leading dot).
fn mentioned(text: &str, dotted: &[String], full: usize) -> Option<usize> {
    dotted.iter().find_map(|d| {
        let quoted = [("\"", "\""), ("\".", "\""), ("'", "'"), ("'.", "'")]
            .iter()
            .any(|(open, close)| text.contains(&format!("{open}{d}{close}")));
        let arcs = d.split('.').count();
        quoted.then_some(if arcs == full { usize::MAX } else { arcs })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_that_is_not_toml_is_searched_for_quoted_oids() {
        let oid = [1, 3, 6, 1, 4, 1, 9, 1, 1];
        let dotted = dotted_prefixes(&oid);
        assert_eq!(
            dotted.first().map(String::as_str),
            Some("1.3.6.1.4.1.9.1.1")
        );
        assert_eq!(dotted.last().map(String::as_str), Some("1.3.6.1.4.1.9"));
        let m = |text: &str| mentioned(text, &dotted, oid.len());
        assert_eq!(m("sysobjectid = ['.1.3.6.1.4.1.9.1.1'"), Some(usize::MAX));
        assert_eq!(m("sysobjectid = [\"1.3.6.1.4.1.9.1.1\""), Some(usize::MAX));
        assert_eq!(m("prefix = \"1.3.6.1.4.1.9.1\" ="), Some(8));
        assert_eq!(m("prefix = \"1.3.6.1.4.1.9.1.12\""), None);
        assert_eq!(m("no oids here"), None);
    }

    #[test]
    fn exact_matches_are_closer_than_any_prefix() {
        let oid = [1, 3, 6, 1, 4, 1, 9, 1, 1];
        assert_eq!(closeness(&[oid.to_vec()], &[], &oid), Some(usize::MAX));
        assert_eq!(
            closeness(&[], &[oid[..7].to_vec(), oid[..8].to_vec()], &oid),
            Some(8)
        );
        assert_eq!(closeness(&[oid[..8].to_vec()], &[], &oid), None);
    }

    #[test]
    fn family_errors_name_the_line_of_their_table() {
        let table = |name: &str, row: &str| {
            format!(
                "[[family]]\nname = '{name}'\nvendor = 'v'\ndescription = 'd'\n\
                 status = {{ column = '1.3' }}\ncontrol = {{ column = '1.3', row = '{row}' }}\n\
                 on = [1]\noff = [2]\nset_on = 1\nset_off = 2\n"
            )
        };
        let text = format!("# lab\n{}\n{}", table("a", "{plug}"), table("b", "1"));
        let err = parse_families("lab.toml", &text).unwrap_err();
        assert!(
            err.starts_with("lab.toml: line 13: family b: control_on row has no {plug}"),
            "{err}"
        );
        let text = format!("# lab\n{}\n{}", table("a", "{plug}"), table("b", "{p1}"));
        let err = parse_families("lab.toml", &text).unwrap_err();
        assert!(
            err.contains("lab.toml: line 13: family b: control_on row uses {p1}"),
            "{err}"
        );
        let text = format!("# lab\n{}\n{}", table("a", "{plug}"), table("b", "{pe}"));
        let err = parse_families("lab.toml", &text).unwrap_err();
        assert!(err.starts_with("lab.toml: line 18, column"), "{err}");
    }
}
