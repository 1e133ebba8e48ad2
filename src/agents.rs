//! Agent definitions as data: `agents/*.toml`, embedded in the binary.
//!
//! A file names an agent, its aliases (fence-agents' "symlinks"), its descriptions, the
//! backend that drives the device, the options it takes (`device_opt`, as in
//! fence-agents: option keys and capability markers) and the defaults it changes.
//! Agent-specific options are declared in the file with the same fields as the built-in
//! option table.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::contract::options::{OptSpec, ValueType};

/// The agent files built into the binary, in the order `fencebox agents` lists them.
const EMBEDDED: &[(&str, &str)] = &[("dummy.toml", include_str!("../agents/dummy.toml"))];

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
            order: self.order,
            help: leak(self.help),
            secret: self.secret,
        }
    }
}

/// Parse one agent file; `origin` names it in error messages.
pub fn parse_agent(origin: &str, text: &str) -> Result<AgentDef, String> {
    let f: AgentFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
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
    })
}

/// Every built-in agent definition.
pub fn builtin() -> Result<Vec<AgentDef>, String> {
    EMBEDDED
        .iter()
        .map(|(file, text)| parse_agent(&format!("agents/{file}"), text))
        .collect()
}

/// The definition an invoked name refers to, and the alias used (if any).
pub struct Found {
    pub def: AgentDef,
    pub symlink: Option<Symlink>,
}

/// Find an agent by the name it was invoked as (`fence_x`, or `x` after `fencebox`).
pub fn find(name: &str) -> Result<Option<Found>, String> {
    let wanted = if name.starts_with("fence_") {
        name.to_string()
    } else {
        format!("fence_{name}")
    };
    for def in builtin()? {
        if def.name == wanted {
            return Ok(Some(Found { def, symlink: None }));
        }
        if let Some(s) = def.symlinks.iter().find(|s| s.name == wanted).cloned() {
            return Ok(Some(Found {
                def,
                symlink: Some(s),
            }));
        }
    }
    Ok(None)
}

/// Every name a binary can be invoked as, with its one-line description.
pub fn all_names() -> Result<Vec<(&'static str, &'static str)>, String> {
    let mut out = Vec::new();
    for def in builtin()? {
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

    #[test]
    fn malformed_file_names_file_and_field() {
        let err = parse_agent("x.toml", "name = 'fence_x'\nshortdesc = 3\n").unwrap_err();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("shortdesc"), "{err}");
    }
}
