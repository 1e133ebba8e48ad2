//! Agent definitions as data: `agents/*.toml`, embedded in the binary.
//!
//! A file names an agent, its aliases (fence-agents' "symlinks"), its descriptions, the
//! backend that drives the device, the options it takes (`device_opt`, as in
//! fence-agents: option keys and capability markers) and the defaults it changes.
//! Agent-specific options are declared in the file with the same fields as the built-in
//! option table.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

mod catalog;
mod dir;

pub use catalog::FamilyCatalog;

use crate::contract::options::{t, OptSpec, Text, ValueType};
use crate::shell::dialogue::Dialogue;
use crate::snmp::family::Family;

/// A built-in agent file as build.rs compiled it: the names it answers to (the agent's
/// and its aliases') and its definition as const data.
struct BuiltinAgent {
    #[cfg_attr(not(test), allow(dead_code))]
    file: &'static str,
    names: &'static [&'static str],
    def: AgentDef,
}

/// One `[[family]]` table of a built-in family file, compiled by build.rs: its name, its
/// sysObjectIDs and prefixes (without a leading dot) for detection, and the code that
/// builds it (only the families a call may match are built).
struct BuiltinFamily {
    #[cfg_attr(not(test), allow(dead_code))]
    file: &'static str,
    name: &'static str,
    oids: &'static [&'static str],
    build: fn() -> Family,
}

// BUILTIN_AGENTS and BUILTIN_FAMILIES, in file-name order.
include!(concat!(env!("OUT_DIR"), "/builtin_agents.rs"));

/// The backend that drives an agent's devices. An agent file names one of these; an
/// unknown name stops the build (built-in files) or is the site file's error, naming
/// its line, so that no call finds out at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Dummy,
    Snmp,
    Ipmi,
    Nut,
    /// A device shell over SSH or telnet, driven by the file's `[shell]` dialogue.
    Shell,
    /// A node's power chain: every feed the inventory gives it, through the devices'
    /// own backends (run by the fleet layer, above the device layer).
    Chain,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    name: String,
    shortdesc: String,
    longdesc: String,
    #[serde(default)]
    vendor_url: String,
    backend: BackendKind,
    device_opt: Vec<String>,
    #[serde(default)]
    option: Vec<OptionFile>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    symlink: Vec<SymlinkFile>,
    snmp: Option<SnmpAgentFile>,
    shell: Option<Dialogue>,
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
    pub families: Cow<'static, [Text]>,
    pub fallback: Option<Text>,
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

/// Option defaults an agent or alias changes, as (option key, value).
pub type Defaults = Cow<'static, [(Text, Text)]>;

/// An alias binary name of an agent, with the defaults it changes.
#[derive(Debug, Clone)]
pub struct Symlink {
    pub name: Text,
    pub shortdesc: Text,
    pub defaults: Defaults,
}

/// One agent definition: const data for the built-in ones, owned for a site file's.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub name: Text,
    pub shortdesc: Text,
    pub longdesc: Text,
    pub vendor_url: Text,
    pub backend: BackendKind,
    pub device_opt: Cow<'static, [Text]>,
    pub options: Cow<'static, [OptSpec]>,
    pub defaults: Defaults,
    pub symlinks: Cow<'static, [Symlink]>,
    pub snmp: Option<SnmpAgent>,
    pub shell: Option<ShellDef>,
}

/// A shell agent's dialogue: a built-in file's `[shell]` table as JSON (checked and
/// converted by build.rs, read when a call of that agent configures its backend), or a
/// site file's, read with the file.
#[derive(Debug, Clone)]
pub enum ShellDef {
    Source(&'static str),
    Parsed(Arc<Dialogue>),
}

impl AgentDef {
    /// The dialogue of a shell agent.
    pub fn dialogue(&self) -> Result<Arc<Dialogue>, String> {
        match &self.shell {
            Some(ShellDef::Parsed(d)) => Ok(d.clone()),
            Some(ShellDef::Source(json)) => serde_json::from_str::<Dialogue>(json)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            None => Err("the agent file has no [shell] table".into()),
        }
    }
}

fn owned_pairs(m: BTreeMap<String, String>) -> Defaults {
    Cow::Owned(m.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
}

fn owned_texts(v: Vec<String>) -> Cow<'static, [Text]> {
    Cow::Owned(v.into_iter().map(Text::from).collect())
}

impl OptionFile {
    fn into_spec(self) -> OptSpec {
        OptSpec {
            key: self.key.into(),
            long: self.long.into(),
            short: self.short,
            value: self.value.map(Text::from),
            default: self.default.map(Text::from),
            required: self.required,
            value_type: self.value_type,
            choices: owned_texts(self.choices),
            extra_choices: Cow::Borrowed(&[]),
            order: self.order,
            help: self.help.into(),
            secret: self.secret,
        }
    }
}

/// Parse one agent file (TOML); `origin` names it in error messages.
pub fn parse_agent(origin: &str, text: &str) -> Result<AgentDef, String> {
    let f: AgentFile = toml::from_str(text).map_err(|e| one_line_error(origin, text, &e))?;
    agent_def(origin, f)
}

fn agent_def(origin: &str, f: AgentFile) -> Result<AgentDef, String> {
    let own_options: Vec<&str> = f.option.iter().map(|o| o.key.as_str()).collect();
    let device_opt: Vec<&str> = f.device_opt.iter().map(String::as_str).collect();
    let shell = shell_def(origin, f.backend, f.shell, &device_opt, &own_options)?;
    if !f.name.starts_with("fence_") {
        return Err(format!(
            "{origin}: agent name '{}' must start with fence_",
            f.name
        ));
    }
    Ok(AgentDef {
        name: f.name.into(),
        shortdesc: f.shortdesc.into(),
        longdesc: f.longdesc.into(),
        vendor_url: f.vendor_url.into(),
        backend: f.backend,
        device_opt: owned_texts(f.device_opt),
        options: Cow::Owned(f.option.into_iter().map(OptionFile::into_spec).collect()),
        defaults: owned_pairs(f.defaults),
        symlinks: Cow::Owned(
            f.symlink
                .into_iter()
                .map(|s| Symlink {
                    name: s.name.into(),
                    shortdesc: s.shortdesc.into(),
                    defaults: owned_pairs(s.defaults),
                })
                .collect(),
        ),
        snmp: f.snmp.map(|s| SnmpAgent {
            families: owned_texts(s.families),
            fallback: s.fallback.map(Text::from),
            detect: s.detect,
        }),
        shell,
    })
}

/// A site file's dialogue, checked as build.rs checks the built-in ones; a shell agent
/// needs one and only a shell agent may have one.
fn shell_def(
    origin: &str,
    backend: BackendKind,
    shell: Option<Dialogue>,
    device_opt: &[&str],
    own_options: &[&str],
) -> Result<Option<ShellDef>, String> {
    match (backend, shell) {
        (BackendKind::Shell, Some(d)) => {
            d.check_for_agent(device_opt, own_options)
                .map_err(|e| format!("{origin}: [shell]: {e}"))?;
            Ok(Some(ShellDef::Parsed(Arc::new(d))))
        }
        (BackendKind::Shell, None) => Err(format!(
            "{origin}: backend \"shell\" needs a [shell] table (the device's dialogue)"
        )),
        (_, Some(_)) => Err(format!(
            "{origin}: a [shell] table belongs to backend \"shell\" only"
        )),
        (_, None) => Ok(None),
    }
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

/// Every built-in agent definition (const data: nothing is read or decoded).
pub fn builtin() -> impl Iterator<Item = &'static AgentDef> {
    BUILTIN_AGENTS.iter().map(|b| &b.def)
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

/// The definition an invoked name refers to, and the alias used (if any).
pub struct Found {
    pub def: AgentDef,
    pub symlink: Option<Symlink>,
}

/// The agents and SNMP families a process knows: the built-in ones (const data compiled
/// by build.rs) and the site's, read once, when a call first needs one (a call of a
/// built-in agent other than an SNMP one never reads the site directory). A process
/// loads the registry once and runs every call on it; threads share it as it is.
pub struct Registry {
    dir: PathBuf,
    site: OnceLock<Site>,
}

/// What the site directory holds.
struct Site {
    agents: Vec<AgentDef>,
    /// Site agent files that cannot be used (one line each, naming the file), and a site
    /// directory that cannot be listed.
    broken: Vec<String>,
    families: Arc<FamilyCatalog>,
}

impl Site {
    fn read(dir: &Path) -> Site {
        let (files, broken) = match site_files(dir) {
            Ok(files) => (files, Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        };
        let mut site = Site {
            agents: Vec::new(),
            broken,
            families: Arc::new(FamilyCatalog::from_files(&files)),
        };
        for (origin, text) in files {
            // Unreadable files are the family catalog's warnings; agent files are TOML
            // files without [[family]] tables, and anything that is not TOML.
            if let Ok(text) = text {
                if !is_family_file(&text) {
                    site.add_agent(&origin, &text);
                }
            }
        }
        site
    }

    fn add_agent(&mut self, origin: &str, text: &str) {
        match parse_agent(origin, text) {
            Ok(def) if find_builtin(&def.name).is_some() => self.broken.push(format!(
                "{origin}: agent {} is built in; a site file cannot replace it (give it another name)",
                def.name
            )),
            Ok(def) => self.agents.push(def),
            Err(e) => self.broken.push(e),
        }
    }
}

impl Registry {
    /// The built-in definitions and those of the site directory `dir`. A site file that
    /// cannot be used affects only what it defines: lookups of the built-in agents never
    /// see its problem, and a site agent is still found beside a broken file.
    pub fn load(dir: &Path) -> Registry {
        Registry {
            dir: dir.to_path_buf(),
            site: OnceLock::new(),
        }
    }

    fn site(&self) -> &Site {
        self.site.get_or_init(|| Site::read(&self.dir))
    }

    /// Find an agent by the name it was invoked as (`fence_x`, or `x` after `fencebox`).
    /// A name that is neither built in nor in a usable site file is an error when a site
    /// file could not be read (it may be the one defining it), else unknown (`None`).
    pub fn find(&self, name: &str) -> Result<Option<Found>, String> {
        let wanted = if name.starts_with("fence_") {
            name.to_string()
        } else {
            format!("fence_{name}")
        };
        if let Some(f) = find_builtin(&wanted) {
            return Ok(Some(f));
        }
        let site = self.site();
        match (find_in(&site.agents, &wanted), site.broken.first()) {
            (Some(f), _) => Ok(Some(f)),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Ok(None),
        }
    }

    /// Every name a binary can be invoked as, with its one-line description; an error
    /// when a site agent file cannot be used (so that no agent goes missing unsaid).
    pub fn all_names(&self) -> Result<Vec<(&str, &str)>, String> {
        let site = self.site();
        if let Some(e) = site.broken.first() {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        let builtin: Vec<&AgentDef> = builtin().collect();
        for def in builtin.into_iter().chain(&site.agents) {
            out.push((&*def.name, &*def.shortdesc));
            for s in def.symlinks.iter() {
                out.push((&*s.name, &*s.shortdesc));
            }
        }
        Ok(out)
    }

    /// The SNMP device families: built in, and the site's family files.
    pub fn families(&self) -> &Arc<FamilyCatalog> {
        &self.site().families
    }
}

/// A built-in agent or alias called `wanted`.
fn find_builtin(wanted: &str) -> Option<Found> {
    let b = BUILTIN_AGENTS.iter().find(|b| b.names.contains(&wanted))?;
    find_in(std::slice::from_ref(&b.def), wanted)
}

fn find_in(defs: &[AgentDef], wanted: &str) -> Option<Found> {
    for def in defs {
        if def.name == wanted {
            return Some(Found {
                def: def.clone(),
                symlink: None,
            });
        }
        if let Some(s) = def.symlinks.iter().find(|s| s.name == wanted) {
            return Some(Found {
                def: def.clone(),
                symlink: Some(s.clone()),
            });
        }
    }
    None
}

fn builtin_family(b: &BuiltinFamily) -> Family {
    (b.build)()
}

/// Site files hold either one agent or `[[family]]` tables. A file that is not TOML is
/// read as an agent file, whose error then names its line.
fn is_family_file(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("family"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// build.rs compiles the built-in files into const data: it must be exactly what
    /// reading the TOML gives (site files are read as TOML).
    #[test]
    fn built_in_data_reads_as_the_toml_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("agents");
        let text = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
        for b in BUILTIN_AGENTS {
            let from_toml = parse_agent(b.file, &text(dir.join(b.file))).unwrap();
            // A built-in dialogue is kept as JSON text: compare it read.
            let mut built_in = b.def.clone();
            if built_in.shell.is_some() {
                built_in.shell = Some(ShellDef::Parsed(built_in.dialogue().unwrap()));
            }
            assert_eq!(
                format!("{from_toml:?}"),
                format!("{built_in:?}"),
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
                .map(builtin_family)
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
        let families = Registry::load(&crate::runtime::env::Env::default().agents_dir)
            .families()
            .all()
            .expect("embedded family files parse");
        for def in builtin() {
            if let Some(snmp) = &def.snmp {
                for name in snmp.families.iter().chain(snmp.fallback.iter()) {
                    assert!(
                        *name == "*" || families.iter().any(|f| f.name == **name),
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
    fn an_unknown_backend_is_the_files_error() {
        let text = "name = 'fence_x'\nshortdesc = 'x'\nlongdesc = 'x'\nbackend = 'telnet'\ndevice_opt = []\n";
        let err = parse_agent("x.toml", text).unwrap_err();
        assert!(err.contains("x.toml: line 4"), "{err}");
        assert!(err.contains("backend"), "{err}");
        let ok = text.replace("telnet", "dummy");
        assert_eq!(
            parse_agent("x.toml", &ok).unwrap().backend,
            BackendKind::Dummy
        );
    }

    #[test]
    fn malformed_file_names_file_and_field() {
        let err = parse_agent("x.toml", "name = 'fence_x'\nshortdesc = 3\n").unwrap_err();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("shortdesc"), "{err}");
    }
}
