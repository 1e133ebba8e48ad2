//! `fencebox inventory import`: what a site already describes (a Pacemaker CIB, a
//! PDUDaemon configuration, an OpenFlight Power topology) turned into an inventory
//! (docs/inventory.md), with a note for everything that could not be carried over.
//!
//! Each source reads its own format and hands devices and nodes to a [`Builder`], which
//! checks option names against the agents' tables, places secrets (inline for a private
//! file, `<key>_file` paths for anything printed), keeps every feed on one node, writes
//! the TOML and reads it back with `inventory::parse` before giving it out. Notes name
//! keys, devices and nodes, never a secret's value.

pub mod cib;
pub mod openflight;
pub mod pdudaemon;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::contract::agents::Registry;
use crate::contract::input;
use crate::contract::option_set::{self, Agent};
use crate::fleet::inventory;

/// The most bytes a source file may have.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Where secret files are suggested when the inventory is printed.
pub const SECRETS_DIR: &str = "/etc/fencebox/secrets";

/// What an import made: the inventory and what could not be carried over.
#[derive(Debug, Clone)]
pub struct Imported {
    /// TOML that `inventory::parse` accepts (with `private` as the [`Secrets`] chosen).
    pub toml: String,
    /// One line each: what was left out or needs a hand, and where secrets are to go.
    pub notes: Vec<String>,
}

/// Where the source's secrets (passwords, communities) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Inline: only for a file its owner alone can read (see [`write_private`]).
    Inline,
    /// Never in the text: `<key>_file = "/etc/fencebox/secrets/<device>-<key>"`, with a
    /// note saying so. For standard output.
    Files,
}

/// The inventory name a source's device name becomes (before any clash is resolved):
/// every character but letters, digits, `-`, `_` and `.` made `-`.
pub fn inventory_name(wanted: &str) -> String {
    let name: String = wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "device".into()
    } else {
        name
    }
}

/// The formats fencebox imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Pacemaker CIB (`cibadmin --query`).
    Cib,
    /// PDUDaemon's pdudaemon.conf (JSON).
    PduDaemon,
    /// OpenFlight Power's (power-server's) topology.yaml.
    OpenFlight,
}

impl Source {
    /// `cib`, `pdudaemon` or `openflight`.
    pub fn parse(name: &str) -> Result<Source, String> {
        match name {
            "cib" | "pacemaker" => Ok(Source::Cib),
            "pdudaemon" => Ok(Source::PduDaemon),
            "openflight" | "flight-power" => Ok(Source::OpenFlight),
            other => Err(format!(
                "'{other}' is not a source fencebox imports; use cib, pdudaemon or openflight"
            )),
        }
    }

    /// Where the source is read from when no file is given (`None` for the CIB: it is
    /// asked of the running cluster with `cibadmin --query`).
    pub fn default_path(self) -> Option<&'static Path> {
        match self {
            Source::Cib => None,
            Source::PduDaemon => Some(Path::new("/etc/pdudaemon/pdudaemon.conf")),
            Source::OpenFlight => Some(Path::new("/opt/flight/etc/power-server/topology.yaml")),
        }
    }
}

/// The source's text: the file given, else the source's usual place (the CIB: from
/// `cibadmin --query`). Errors are one line.
pub fn read_input(source: Source, path: Option<&Path>) -> Result<String, String> {
    match (path, source.default_path()) {
        (Some(p), _) | (None, Some(p)) => read_file(p),
        (None, None) => cib::query_cluster(),
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("{}: cannot read it ({e})", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_INPUT {
        return Err(format!(
            "{}: not a file to import (a regular file of at most {} MiB)",
            path.display(),
            MAX_INPUT >> 20
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| format!("{}: cannot read it ({e})", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (byte {} is not valid)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Import `text` of `source`.
pub fn import(
    source: Source,
    text: &str,
    registry: &Registry,
    secrets: Secrets,
) -> Result<Imported, String> {
    match source {
        Source::Cib => cib::import(text, registry, secrets),
        Source::PduDaemon => pdudaemon::import(text, registry, secrets),
        Source::OpenFlight => openflight::import(text, registry, secrets),
    }
}

/// Write an imported inventory that holds secrets inline: the file is created readable
/// and writable by its owner only (0600) beside `path` and renamed over it, so no reader
/// ever sees it with wider permissions or half written.
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!(
            "{}: is a directory; give a file name",
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("{}: cannot write it ({e})", path.display())
    })
}

// ------------------------------------------------------------------ building the inventory

/// An option value as a source gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Given {
    Text(String),
    /// A whole number (written unquoted).
    Number(i64),
    /// A flag (written as true/false).
    Flag(bool),
    /// A secret kept in this file by the source's own means (Pacemaker's CIB secrets).
    InFile(PathBuf),
}

impl Given {
    fn text(&self) -> String {
        match self {
            Given::Text(t) => t.clone(),
            Given::Number(n) => n.to_string(),
            Given::Flag(b) => b.to_string(),
            Given::InFile(p) => p.display().to_string(),
        }
    }
}

/// An option as written into the inventory.
#[derive(Debug, Clone)]
enum Out {
    Text(String),
    Number(i64),
    Flag(bool),
}

#[derive(Debug, Clone)]
struct DeviceOut {
    agent: String,
    origin: String,
    options: Vec<(String, Out)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct NodeOut {
    pub groups: Vec<String>,
    pub feeds: Vec<inventory::Feed>,
    pub bmc: Option<inventory::Feed>,
}

/// Collects devices and nodes, checks them, writes the inventory.
pub(crate) struct Builder<'r> {
    registry: &'r Registry,
    secrets: Secrets,
    devices: BTreeMap<String, DeviceOut>,
    nodes: BTreeMap<String, (String, NodeOut)>,
    notes: Vec<String>,
}

/// Letters, digits, `-`, `_` and `.`: what the inventory takes as a name.
pub(crate) fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A value the inventory can hold: one line.
fn one_line(v: &str) -> bool {
    !v.contains(['\n', '\r', '\0'])
}

impl<'r> Builder<'r> {
    pub fn new(registry: &'r Registry, secrets: Secrets) -> Builder<'r> {
        Builder {
            registry,
            secrets,
            devices: BTreeMap::new(),
            nodes: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// The agent called `name`, as the inventory will resolve it.
    pub fn agent(&self, name: &str) -> Result<Agent, String> {
        let found = self.registry.find(name)?.ok_or_else(|| {
            format!("fencebox has no agent {name} ('fencebox agents' lists them)")
        })?;
        option_set::resolve(found.def, found.symlink.as_ref())
    }

    /// A device name the inventory accepts and no other device has: `wanted` with every
    /// other character made `-`, and a number added on a clash (both noted).
    pub fn device_name(&mut self, wanted: &str, origin: &str) -> String {
        let base = inventory_name(wanted);
        let mut name = base.clone();
        let mut n = 2;
        while self.devices.contains_key(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        if name != wanted {
            self.note(format!(
                "{origin}: named {name} in the inventory (a device name is letters, digits, -, _ and ., and one per device)"
            ));
        }
        name
    }

    /// Add device `name` (from [`Builder::device_name`]) driven by `agent`, with the
    /// source's options by the names the source uses. Options the agent does not have,
    /// values that are not one line and secrets where they cannot go are left out with a
    /// note; `origin` says where the device came from in the notes and the file.
    pub fn device(&mut self, name: &str, agent: &Agent, origin: &str, given: &[(String, Given)]) {
        let mut options: Vec<(String, Out)> = Vec::new();
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for (key, value) in given {
            let Some(spec) = input::resolve_key(key, &agent.options) else {
                self.note(format!(
                    "{origin}: {} has no option {key}; left out",
                    agent.name
                ));
                continue;
            };
            if matches!(spec.key.as_ref(), "action" | "port" | "nodename") {
                self.note(format!(
                    "{origin}: {key} is decided by each command, not by the inventory; left out"
                ));
                continue;
            }
            let canonical = spec.canonical_name();
            if !keys.insert(spec.key.to_string()) {
                self.note(format!(
                    "{origin}: {key} is given twice (under two spellings); the first is kept"
                ));
                continue;
            }
            if !one_line(&value.text()) {
                self.note(format!(
                    "{origin}: the value of {key} is more than one line; left out"
                ));
                continue;
            }
            if spec.secret {
                let (k, v) = match (value, self.secrets) {
                    (Given::InFile(path), _) => (
                        format!("{canonical}_file"),
                        Out::Text(path.display().to_string()),
                    ),
                    (v, Secrets::Inline) => (canonical, Out::Text(v.text())),
                    (_, Secrets::Files) => {
                        let path = format!("{SECRETS_DIR}/{name}-{canonical}");
                        self.note(format!(
                            "devices.{name}.{canonical}: a secret, not printed; put it on the first line of {path} (chmod 600), or import with --output FILE to keep it in that private file"
                        ));
                        (format!("{canonical}_file"), Out::Text(path))
                    }
                };
                options.push((k, v));
                continue;
            }
            let out = match value {
                Given::InFile(_) => {
                    self.note(format!(
                        "{origin}: {key} is kept in a secrets store, but fencebox reads only secret options from files; set it by hand"
                    ));
                    continue;
                }
                Given::Text(t) => Out::Text(t.clone()),
                Given::Number(n) => Out::Number(*n),
                Given::Flag(b) => Out::Flag(*b),
            };
            options.push((canonical, out));
        }
        self.devices.insert(
            name.to_string(),
            DeviceOut {
                agent: agent.name.to_string(),
                origin: origin.to_string(),
                options,
            },
        );
    }

    /// Add node `name` (noted and left out when the inventory cannot take the name).
    pub fn node(&mut self, name: &str, origin: &str, node: NodeOut) {
        if !name_ok(name) || name == "all" {
            self.note(format!(
                "{origin}: node '{name}' cannot be an inventory node name (letters, digits, -, _ and ., not 'all'); left out"
            ));
            return;
        }
        self.nodes
            .insert(name.to_string(), (origin.to_string(), node));
    }

    /// Check what was collected, write the inventory and read it back.
    pub fn finish(mut self, header: &str) -> Result<Imported, String> {
        self.one_node_per_feed();
        let empty: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, (_, n))| n.feeds.is_empty() && n.bmc.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        for name in empty {
            if let Some((origin, _)) = self.nodes.remove(&name) {
                self.note(format!(
                    "{origin}: left out, nothing left powers it (node {name})"
                ));
            }
        }
        let toml = self.render(header);
        let private = self.secrets == Secrets::Inline;
        inventory::parse(
            Path::new("imported inventory"),
            &toml,
            private,
            self.registry,
        )
        .map_err(|e| {
            format!("the imported inventory does not read back ({e}); please report this")
        })?;
        Ok(Imported {
            toml,
            notes: self.notes,
        })
    }

    /// A feed (or BMC) that the source gives to several nodes goes to none of them.
    fn one_node_per_feed(&mut self) {
        let mut owners: BTreeMap<inventory::Feed, Vec<String>> = BTreeMap::new();
        for (name, (_, n)) in &self.nodes {
            for f in n.feeds.iter().chain(&n.bmc) {
                let list = owners.entry(f.clone()).or_default();
                if !list.contains(name) {
                    list.push(name.clone());
                }
            }
        }
        for (feed, names) in owners.into_iter().filter(|(_, v)| v.len() > 1) {
            for name in &names {
                if let Some((_, n)) = self.nodes.get_mut(name) {
                    n.feeds.retain(|f| *f != feed);
                    if n.bmc.as_ref() == Some(&feed) {
                        n.bmc = None;
                    }
                }
            }
            self.notes.push(format!(
                "{feed} powers {} in the source; a feed belongs to one node, so it is left out of each",
                names.join(", ")
            ));
        }
        // A node may list a feed twice (two sources of one fact): keep it once.
        for (_, n) in self.nodes.values_mut() {
            let mut seen = BTreeSet::new();
            n.feeds.retain(|f| seen.insert(f.clone()));
        }
    }

    fn render(&self, header: &str) -> String {
        let mut s = String::new();
        for line in header.lines() {
            s.push_str(&format!("# {}\n", comment(line)));
        }
        for (name, d) in &self.devices {
            s.push_str(&format!(
                "\n# {}\n[devices.{}]\nagent = {}\n",
                comment(&d.origin),
                key(name),
                quoted(&d.agent)
            ));
            for (k, v) in &d.options {
                let v = match v {
                    Out::Text(t) => quoted(t),
                    Out::Number(n) => n.to_string(),
                    Out::Flag(b) => b.to_string(),
                };
                s.push_str(&format!("{} = {v}\n", key(k)));
            }
        }
        for (name, (origin, n)) in &self.nodes {
            s.push_str(&format!("\n# {}\n[nodes.{}]\n", comment(origin), key(name)));
            if !n.groups.is_empty() {
                s.push_str(&format!("groups = {}\n", list(&n.groups)));
            }
            if !n.feeds.is_empty() {
                let feeds: Vec<String> = n.feeds.iter().map(ToString::to_string).collect();
                s.push_str(&format!("feeds = {}\n", list(&feeds)));
            }
            if let Some(b) = &n.bmc {
                s.push_str(&format!("bmc = {}\n", quoted(&b.to_string())));
            }
        }
        s
    }
}

/// A comment's text on one line.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A TOML key: bare where TOML allows it, else quoted.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        k.to_string()
    } else {
        quoted(k)
    }
}

/// A TOML basic string.
fn quoted(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A feed on `device`, on `plug` when it has plugs.
pub(crate) fn feed(device: &str, plug: &str) -> inventory::Feed {
    inventory::Feed {
        device: device.to_string(),
        plug: plug.trim().to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn registry() -> Registry {
        Registry::load(Path::new("/nonexistent-fencebox-agents.d"))
    }

    /// The import's text reads back as an inventory, the way it would be written.
    pub fn reads_back(imported: &Imported, secrets: Secrets) -> inventory::Inventory {
        inventory::parse(
            Path::new("imported.toml"),
            &imported.toml,
            secrets == Secrets::Inline,
            &registry(),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", imported.toml))
    }

    pub fn feeds(inv: &inventory::Inventory, node: &str) -> Vec<String> {
        inv.node(node)
            .unwrap_or_else(|| panic!("no node {node}"))
            .feeds
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    pub fn bmc(inv: &inventory::Inventory, node: &str) -> Option<String> {
        inv.node(node)
            .unwrap_or_else(|| panic!("no node {node}"))
            .bmc
            .as_ref()
            .map(ToString::to_string)
    }

    pub fn option(inv: &inventory::Inventory, device: &str, key: &str) -> Option<String> {
        inv.devices[device]
            .options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| match v {
                inventory::Value::Plain(p) => p.clone(),
                inventory::Value::SecretFile(p) => format!("file:{}", p.display()),
            })
    }

    /// No secret of `secrets` is in the printed text or the notes.
    pub fn hides(imported: &Imported, secrets: &[&str]) {
        for s in secrets {
            assert!(
                !imported.toml.contains(s),
                "{s} printed:\n{}",
                imported.toml
            );
            for n in &imported.notes {
                assert!(!n.contains(s), "{s} in a note: {n}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_keys_and_values_are_written_as_toml_reads_them() {
        let r = registry();
        let mut b = Builder::new(&r, Secrets::Inline);
        let agent = b.agent("fence_apc_snmp").unwrap();
        let name = b.device_name("pdu 1", "test");
        assert_eq!(name, "pdu-1");
        b.device(
            &name,
            &agent,
            "test \"origin\"\nsecond line",
            &[
                ("ipaddr".into(), Given::Text("pdu1.example.com".into())),
                (
                    "community".into(),
                    Given::Text("a \"quoted\" \\ secret".into()),
                ),
                ("ipport".into(), Given::Number(161)),
                ("colour".into(), Given::Text("red".into())),
                ("port".into(), Given::Text("3".into())),
                ("ip".into(), Given::Text("again".into())),
            ],
        );
        let dotted = b.device_name("pdu2.example.com", "test");
        b.device(
            &dotted,
            &agent,
            "test",
            &[("ip".into(), Given::Text("x".into()))],
        );
        b.node(
            "node1",
            "test",
            NodeOut {
                feeds: vec![feed(&name, "1"), feed(&dotted, "2:4")],
                groups: vec!["rack1".into()],
                bmc: None,
            },
        );
        b.node("bad name", "test", NodeOut::default());
        let imported = b.finish("a header").unwrap();
        let inv = reads_back(&imported, Secrets::Inline);
        assert_eq!(feeds(&inv, "node1"), ["pdu-1:1", "pdu2.example.com:2:4"]);
        assert_eq!(
            option(&inv, "pdu-1", "community").as_deref(),
            Some("a \"quoted\" \\ secret")
        );
        assert_eq!(
            option(&inv, "pdu-1", "ipaddr").as_deref(),
            Some("pdu1.example.com")
        );
        let notes = imported.notes.join("\n");
        for wanted in [
            "named pdu-1",
            "has no option colour",
            "port is decided by each command",
            "ip is given twice",
            "node 'bad name' cannot be",
        ] {
            assert!(notes.contains(wanted), "{wanted}: {notes}");
        }
    }

    #[test]
    fn printed_secrets_become_files_and_a_shared_feed_goes_to_nobody() {
        let r = registry();
        let mut b = Builder::new(&r, Secrets::Files);
        let agent = b.agent("fence_ipmilan").unwrap();
        b.device(
            "bmc1",
            &agent,
            "test",
            &[
                ("ip".into(), Given::Text("10.0.0.1".into())),
                ("password".into(), Given::Text("hunter2".into())),
                ("lanplus".into(), Given::Flag(true)),
            ],
        );
        b.device(
            "bmc2",
            &agent,
            "test",
            &[
                ("ip".into(), Given::Text("10.0.0.2".into())),
                ("passwd".into(), Given::InFile("/var/lib/secret".into())),
            ],
        );
        let one = NodeOut {
            bmc: Some(feed("bmc1", "")),
            ..NodeOut::default()
        };
        b.node("n1", "test", one.clone());
        b.node("n2", "test", one);
        b.node(
            "n3",
            "test",
            NodeOut {
                feeds: vec![feed("bmc2", "")],
                ..NodeOut::default()
            },
        );
        let imported = b.finish("h").unwrap();
        hides(&imported, &["hunter2"]);
        let inv = reads_back(&imported, Secrets::Files);
        assert_eq!(
            option(&inv, "bmc1", "passwd").as_deref(),
            Some("file:/etc/fencebox/secrets/bmc1-password")
        );
        assert_eq!(
            option(&inv, "bmc2", "passwd").as_deref(),
            Some("file:/var/lib/secret")
        );
        assert!(inv.node("n1").is_none() && inv.node("n2").is_none());
        assert_eq!(feeds(&inv, "n3"), ["bmc2"]);
        let notes = imported.notes.join("\n");
        assert!(notes.contains("bmc1 powers n1, n2"), "{notes}");
        assert!(
            notes.contains("/etc/fencebox/secrets/bmc1-password"),
            "{notes}"
        );
    }

    #[test]
    fn a_private_file_is_written_0600_and_replaces_what_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fencebox-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("inv.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = write_private(&dir, "x").unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Every cut of a real input is either imported or refused in one line, never a panic.
    #[test]
    fn cut_inputs_never_panic() {
        let r = registry();
        let inputs = [
            (Source::Cib, include_str!("../../../tests/fixtures/import/cib.xml")),
            (Source::PduDaemon, include_str!("../../../tests/fixtures/import/pdudaemon.conf")),
            (
                Source::OpenFlight,
                "static_nodes:\n  n1: {platform: ipmi, u: admin}\nplatforms:\n  ipmi:\n    variables: [u]\n    power_off: ipmitool -H \"$name\"-bmc -U \"$u\" -P 'x' -I lanplus chassis power off\n",
            ),
        ];
        for (source, text) in inputs {
            let cuts = text.char_indices().map(|(i, _)| i).step_by(3);
            for cut in cuts {
                for secrets in [Secrets::Files, Secrets::Inline] {
                    if let Err(e) = import(source, &text[..cut], &r, secrets) {
                        assert_eq!(e.lines().count(), 1, "{source:?} cut at {cut}: {e}");
                        assert!(!e.contains("read back"), "{source:?} cut at {cut}: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn sources_by_name() {
        assert_eq!(Source::parse("cib"), Ok(Source::Cib));
        assert_eq!(Source::parse("pdudaemon"), Ok(Source::PduDaemon));
        assert_eq!(Source::parse("openflight"), Ok(Source::OpenFlight));
        assert!(Source::parse("powerman")
            .unwrap_err()
            .contains("cib, pdudaemon or openflight"));
    }
}
