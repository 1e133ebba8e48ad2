//! Agent definitions as data: `agents/*.toml`, embedded in the binary.
//!
//! A file names an agent, its aliases (fence-agents' "symlinks"), its descriptions, the
//! backend that drives the device, the options it takes (`device_opt`, as in
//! fence-agents: option keys and capability markers) and the defaults it changes.
//! Agent-specific options are declared in the file with the same fields as the built-in
//! option table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

mod catalog;
mod dir;

pub use catalog::FamilyCatalog;

use crate::contract::options::{OptSpec, ValueType};
use crate::snmp::family::Family;

/// A built-in agent file as build.rs compiled it: the names it answers to (the agent's
/// and its aliases') and its definition as JSON, read into `AgentFile` like TOML would be.
struct BuiltinAgent {
    file: &'static str,
    names: &'static [&'static str],
    json: &'static str,
}

/// One `[[family]]` table of a built-in family file, compiled by build.rs: its name, its
/// sysObjectIDs and prefixes (without a leading dot) for detection, and the table as JSON.
struct BuiltinFamily {
    file: &'static str,
    name: &'static str,
    oids: &'static [&'static str],
    json: &'static str,
}

// BUILTIN_AGENTS and BUILTIN_FAMILIES, in file-name order.
include!(concat!(env!("OUT_DIR"), "/builtin_agents.rs"));

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    name: String,
    shortdesc: String,
    longdesc: String,
    #[serde(default)]
    vendor_url: String,
    backend: String,
    device_opt: Vec<String>,
    #[serde(default)]
    option: Vec<OptionFile>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    symlink: Vec<SymlinkFile>,
    snmp: Option<SnmpAgentFile>,
}

/// How an SNMP agent picks its device family.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnmpAgentFile {
    /// Candidate families by name, or `["*"]` for every known family.
    families: Vec<String>,
    /// Used when the sysObjectID matches none (fence-agents' fallback class).
    fallback: Option<String>,
    /// Skip the sysObjectID read: the agent drives exactly one family.
    #[serde(default = "yes")]
    detect: bool,
}

fn yes() -> bool {
    true
}

/// What an SNMP agent file says about families (see `SnmpAgentFile`).
#[derive(Debug, Clone)]
pub struct SnmpAgent {
    pub families: Vec<&'static str>,
    pub fallback: Option<&'static str>,
    pub detect: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionFile {
    key: String,
    long: String,
    short: Option<char>,
    value: Option<String>,
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default, rename = "type")]
    value_type: ValueType,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default = "one")]
    order: u32,
    help: String,
    #[serde(default)]
    secret: bool,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SymlinkFile {
    name: String,
    shortdesc: String,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
}

/// An alias binary name of an agent, with the defaults it changes.
#[derive(Debug, Clone)]
pub struct Symlink {
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub defaults: Vec<(&'static str, &'static str)>,
}

/// One agent definition, as read from its file.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub vendor_url: &'static str,
    pub backend: &'static str,
    pub device_opt: Vec<&'static str>,
    pub options: Vec<OptSpec>,
    pub defaults: Vec<(&'static str, &'static str)>,
    pub symlinks: Vec<Symlink>,
    pub snmp: Option<SnmpAgent>,
}

/// Agent files are read once per process and live as long as it does, so their strings
/// are leaked into `'static` and share the `OptSpec` type with the built-in table.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn leak_pairs(m: BTreeMap<String, String>) -> Vec<(&'static str, &'static str)> {
    m.into_iter().map(|(k, v)| (leak(k), leak(v))).collect()
}

impl OptionFile {
    fn into_spec(self) -> OptSpec {
        let choices: Vec<&'static str> = self.choices.into_iter().map(leak).collect();
        OptSpec {
            key: leak(self.key),
            long: leak(self.long),
            short: self.short,
            value: self.value.map(leak),
            default: self.default.map(leak),
            required: self.required,
            value_type: self.value_type,
            choices: Box::leak(choices.into_boxed_slice()),
            extra_choices: &[],
            order: self.order,
            help: leak(self.help),
            secret: self.secret,
        }
    }
}

/// Parse one agent file (TOML); `origin` names it in error messages.
pub fn parse_agent(origin: &str, text: &str) -> Result<AgentDef, String> {
    let f: AgentFile = toml::from_str(text).map_err(|e| one_line_error(origin, text, &e))?;
    agent_def(origin, f)
}

fn builtin_agent(b: &BuiltinAgent) -> Result<AgentDef, String> {
    let origin = format!("agents/{}", b.file);
    let f: AgentFile = serde_json::from_str(b.json).map_err(|e| format!("{origin}: {e}"))?;
    agent_def(&origin, f)
}

fn agent_def(origin: &str, f: AgentFile) -> Result<AgentDef, String> {
    if !f.name.starts_with("fence_") {
        return Err(format!(
            "{origin}: agent name '{}' must start with fence_",
            f.name
        ));
    }
    Ok(AgentDef {
        name: leak(f.name),
        shortdesc: leak(f.shortdesc),
        longdesc: leak(f.longdesc),
        vendor_url: leak(f.vendor_url),
        backend: leak(f.backend),
        device_opt: f.device_opt.into_iter().map(leak).collect(),
        options: f.option.into_iter().map(OptionFile::into_spec).collect(),
        defaults: leak_pairs(f.defaults),
        symlinks: f
            .symlink
            .into_iter()
            .map(|s| Symlink {
                name: leak(s.name),
                shortdesc: leak(s.shortdesc),
                defaults: leak_pairs(s.defaults),
            })
            .collect(),
        snmp: f.snmp.map(|s| SnmpAgent {
            families: s.families.into_iter().map(leak).collect(),
            fallback: s.fallback.map(leak),
            detect: s.detect,
        }),
    })
}

/// A TOML error as one line: file, line, column, the field on that line, the problem.
fn one_line_error(origin: &str, text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return format!("{origin}: {message}");
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or_default();
    match line_text.split_once('=') {
        Some((key, _)) => format!(
            "{origin}: line {line}, column {column}, field '{}': {message}",
            key.trim()
        ),
        None => format!("{origin}: line {line}, column {column}: {message}"),
    }
}

/// Every built-in agent definition.
pub fn builtin() -> Result<Vec<AgentDef>, String> {
    BUILTIN_AGENTS.iter().map(builtin_agent).collect()
}

/// A site file's name and its text, or why it cannot be read.
type SiteFile = (String, Result<String, String>);

/// Agent and family files of this site (`*.toml` in `dir`, the site directory of the
/// call's `Env`, sorted by name). A missing directory holds no files.
fn site_files(dir: &Path) -> Result<Vec<SiteFile>, String> {
    let paths = match dir::toml_files(dir) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    Ok(paths
        .into_iter()
        .map(|p| {
            let origin = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{origin}: {e}"));
            (origin, text)
        })
        .collect())
}

/// The site files' texts; an unreadable file is an error, naming it.
fn site_texts(dir: &Path) -> Result<Vec<(String, String)>, String> {
    site_files(dir)?
        .into_iter()
        .map(|(origin, text)| text.map(|t| (origin, t)))
        .collect()
}

pub fn site(dir: &Path) -> Result<Vec<AgentDef>, String> {
    let mut defs = Vec::new();
    for (origin, text) in site_texts(dir)? {
        if is_family_file(&text) {
            continue;
        }
        let def = parse_agent(&origin, &text)?;
        if find_builtin(def.name)?.is_some() {
            return Err(format!(
                "{origin}: agent {} is built in; a site file cannot replace it (give it another name)",
                def.name
            ));
        }
        defs.push(def);
    }
    Ok(defs)
}

/// The definition an invoked name refers to, and the alias used (if any).
pub struct Found {
    pub def: AgentDef,
    pub symlink: Option<Symlink>,
}

/// Find an agent by the name it was invoked as (`fence_x`, or `x` after `fencebox`).
pub fn find(name: &str, site_dir: &Path) -> Result<Option<Found>, String> {
    let wanted = if name.starts_with("fence_") {
        name.to_string()
    } else {
        format!("fence_{name}")
    };
    if let Some(f) = find_builtin(&wanted)? {
        return Ok(Some(f));
    }
    // Site files are read only for names that are not built in, so a broken site file
    // cannot take the shipped agents down with it.
    Ok(find_in(site(site_dir)?, &wanted))
}

/// A built-in agent or alias called `wanted`; only its own file is decoded.
fn find_builtin(wanted: &str) -> Result<Option<Found>, String> {
    match BUILTIN_AGENTS.iter().find(|b| b.names.contains(&wanted)) {
        Some(b) => Ok(find_in(vec![builtin_agent(b)?], wanted)),
        None => Ok(None),
    }
}

fn find_in(defs: Vec<AgentDef>, wanted: &str) -> Option<Found> {
    for def in defs {
        if def.name == wanted {
            return Some(Found { def, symlink: None });
        }
        if let Some(s) = def.symlinks.iter().find(|s| s.name == wanted).cloned() {
            return Some(Found {
                def,
                symlink: Some(s),
            });
        }
    }
    None
}

/// Every usable SNMP device family: built in first, then those of the site's family files
/// (`[[family]]` tables in `site_dir()`; see `FamilyCatalog` for the ones left out).
pub fn families(site_dir: &Path) -> Result<Vec<Family>, String> {
    FamilyCatalog::load(site_dir)?.all()
}

fn builtin_family(b: &BuiltinFamily) -> Result<Family, String> {
    let origin = format!("agents/families/{}", b.file);
    let f: crate::snmp::family::FamilyFile =
        serde_json::from_str(b.json).map_err(|e| format!("{origin}: {e}"))?;
    f.into_family().map_err(|e| format!("{origin}: {e}"))
}

/// Site files hold either one agent or `[[family]]` tables. A file that is not TOML is
/// read as an agent file, whose error then names its line.
fn is_family_file(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("family"))
}

/// Every name a binary can be invoked as, with its one-line description.
pub fn all_names(site_dir: &Path) -> Result<Vec<(&'static str, &'static str)>, String> {
    let mut out = Vec::new();
    for def in builtin()?.into_iter().chain(site(site_dir)?) {
        out.push((def.name, def.shortdesc));
        for s in &def.symlinks {
            out.push((s.name, s.shortdesc));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_parses() {
        let defs = builtin().expect("embedded agent files parse");
        assert!(!defs.is_empty());
    }

    /// build.rs hands the built-in files over as JSON: reading them that way must give
    /// exactly what reading the TOML gives (site files are read as TOML).
    #[test]
    fn built_in_json_reads_as_the_toml_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("agents");
        let text = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
        for b in BUILTIN_AGENTS {
            let from_toml = parse_agent(b.file, &text(dir.join(b.file))).unwrap();
            let from_json = builtin_agent(b).unwrap();
            assert_eq!(
                format!("{from_toml:?}"),
                format!("{from_json:?}"),
                "{}",
                b.file
            );
        }
        let mut files: Vec<&str> = BUILTIN_FAMILIES.iter().map(|b| b.file).collect();
        files.dedup();
        for file in files {
            let from_toml: Vec<Family> =
                catalog::parse_families(file, &text(dir.join("families").join(file)))
                    .unwrap()
                    .into_iter()
                    .map(|(_, f)| f)
                    .collect();
            let from_json: Vec<Family> = BUILTIN_FAMILIES
                .iter()
                .filter(|b| b.file == file)
                .map(|b| builtin_family(b).unwrap())
                .collect();
            assert_eq!(format!("{from_toml:?}"), format!("{from_json:?}"), "{file}");
        }
        let files = dir::toml_files(&dir).unwrap();
        assert_eq!(
            BUILTIN_AGENTS.len(),
            files.len(),
            "every agents/*.toml is built in"
        );
    }

    #[test]
    fn every_family_an_agent_names_exists() {
        let families = families(&crate::runtime::env::Env::default().agents_dir)
            .expect("embedded family files parse");
        for def in builtin().unwrap() {
            if let Some(snmp) = &def.snmp {
                for name in snmp.families.iter().chain(snmp.fallback.iter()) {
                    assert!(
                        *name == "*" || families.iter().any(|f| f.name == *name),
                        "{} names unknown family {name}",
                        def.name
                    );
                }
            }
        }
        let mut names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), families.len(), "family names are unique");
    }

    #[test]
    fn malformed_file_names_file_and_field() {
        let err = parse_agent("x.toml", "name = 'fence_x'\nshortdesc = 3\n").unwrap_err();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("shortdesc"), "{err}");
    }
}
