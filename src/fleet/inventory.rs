//! The inventory: the site's devices (an agent and its options), its nodes (the feeds of
//! their power supplies, a BMC, groups) and the power chain (each device's parent feed).
//! Read from TOML (docs/inventory.md); every problem is one line naming the file, the
//! line and the field. Nothing is contacted while reading: device options are checked
//! against the agent's option table here, and by the agent's own validation when a
//! command first uses the device.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::contract::agents::Registry;
use crate::contract::input;
use crate::contract::option_set::{self, Agent};

/// The most bytes an inventory file may have: hundreds of nodes take a few hundred KiB.
const MAX_SIZE: u64 = 16 * 1024 * 1024;

/// Option keys an inventory device may not set: the command and the feeds decide them.
const DECIDED_PER_CALL: [&str; 3] = ["action", "port", "nodename"];

/// One power input: a device, and the plug on it when the device has plugs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Feed {
    pub device: String,
    /// "" for a device without plugs (a BMC, a dummy status file).
    pub plug: String,
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.plug.as_str() {
            "" => write!(f, "{}", self.device),
            p => write!(f, "{}:{p}", self.device),
        }
    }
}

/// What powers a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// Not said.
    Unknown,
    /// The building's supply: the top of a chain.
    Mains,
    Feed(Feed),
}

/// An option value as the inventory gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Plain(String),
    /// A secret read from this file when a command uses the device (`password_file`).
    SecretFile(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub agent: Agent,
    /// Option key (the agent's internal one) and value, by key.
    pub options: Vec<(String, Value)>,
    pub parent: Parent,
    /// The line of the device's table, for problems found later (validation, contact).
    pub line: usize,
}

impl Device {
    /// Whether feeds on this device name a plug.
    pub fn has_plugs(&self) -> bool {
        self.agent.has_plugs()
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub groups: Vec<String>,
    /// One per power supply, in the file's order.
    pub feeds: Vec<Feed>,
    pub bmc: Option<Feed>,
    pub line: usize,
}

impl Node {
    /// What `fencebox power` switches: the feeds, or the BMC of a node that has none.
    pub fn power_feeds(&self) -> Vec<Feed> {
        match (&self.feeds[..], &self.bmc) {
            ([], Some(bmc)) => vec![bmc.clone()],
            (feeds, _) => feeds.to_vec(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    /// By name.
    pub devices: BTreeMap<String, Device>,
    /// In name order.
    pub nodes: Vec<Node>,
}

impl Inventory {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The node names with their groups, for host-list selection.
    pub fn names(&self) -> impl Iterator<Item = (&str, &[String])> + Clone {
        self.nodes
            .iter()
            .map(|n| (n.name.as_str(), n.groups.as_slice()))
    }

    /// The node a feed powers, if any.
    pub fn node_fed_by(&self, feed: &Feed) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.feeds.contains(feed) || n.bmc.as_ref() == Some(feed))
    }
}

// ------------------------------------------------------------------ the file's shape

/// A device's table as written: every key and value with where it is.
type RawDevice = Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    devices: BTreeMap<String, RawDevice>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    feeds: Vec<Spanned<String>>,
    bmc: Option<Spanned<String>>,
}

/// Reads one file, keeping where each problem is.
struct Reader<'a> {
    path: &'a Path,
    /// Where each line break of the file is, so that finding the line of an offset (done
    /// for every device and node) does not count through the file each time.
    line_breaks: Vec<usize>,
    /// Inline secrets are allowed only in a file nobody else can read.
    private: bool,
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        self.line_breaks.partition_point(|&b| b < offset) + 1
    }

    fn err(&self, offset: usize, what: &str, msg: impl std::fmt::Display) -> String {
        format!(
            "{}:{}: {what}: {msg}",
            self.path.display(),
            self.line(offset)
        )
    }
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read and check an inventory file. Agents are looked up in `registry`.
pub fn load(path: &Path, registry: &Registry) -> Result<Inventory, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "{}: cannot read the inventory ({e}); give one with --inventory PATH or FENCEBOX_INVENTORY (docs/inventory.md)",
            path.display()
        )
    })?;
    if !meta.is_file() || meta.len() > MAX_SIZE {
        return Err(format!(
            "{}: not an inventory (a regular file of at most {} MiB)",
            path.display(),
            MAX_SIZE >> 20
        ));
    }
    // The inventory decides what is switched and which password scripts run, as root
    // under Pacemaker: nobody but its owner (root or whoever runs the command) may change it.
    let trusted_owner = meta.uid() == 0 || meta.uid() == own_uid();
    if !trusted_owner || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{}: others could change this inventory (owner uid {}, mode {:o}); it decides what is switched and which scripts run: chown it to root (or to you) and chmod go-w",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the inventory ({e})", path.display()))?;
    // Readable by nobody but its owner: then it may hold secrets inline.
    let private = meta.mode() & 0o077 == 0;
    parse(path, &text, private, registry)
}

fn own_uid() -> u32 {
    // SAFETY-free: the uid of the process owning /proc/self.
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// Check an inventory's text (`private`: whether the file may hold secrets inline).
pub fn parse(
    path: &Path,
    text: &str,
    private: bool,
    registry: &Registry,
) -> Result<Inventory, String> {
    let r = Reader {
        path,
        line_breaks: text
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect(),
        private,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        format!(
            "{}:{}: {}",
            path.display(),
            r.line(at),
            e.message().trim_end()
        )
    })?;
    let mut devices = BTreeMap::new();
    for (name, table) in &raw.devices {
        let device = read_device(&r, name, table, registry)?;
        devices.insert(name.clone(), device);
    }
    check_chain(&r, &devices, &raw)?;
    let mut nodes = Vec::new();
    // Who each outlet powers: a node, or a device (its parent feed). Numbers are compared
    // as numbers, so pdu1:7 and pdu1:07 are one outlet.
    let mut fed: BTreeMap<(String, String), String> = devices
        .values()
        .filter_map(|d| match &d.parent {
            Parent::Feed(f) => Some((same_outlet(f), format!("device {}", d.name))),
            _ => None,
        })
        .collect();
    for (name, node) in &raw.nodes {
        let node = read_node(&r, name, node, &devices)?;
        for feed in node.feeds.iter().chain(&node.bmc) {
            if let Some(other) = fed.insert(same_outlet(feed), format!("node {}", node.name)) {
                return Err(r.err(
                    raw.nodes[name].span().start,
                    &format!("nodes.{name}"),
                    format!("{feed} already powers {other}; a feed belongs to one node (switching it would switch the other too)"),
                ));
            }
        }
        nodes.push(node);
    }
    Ok(Inventory {
        path: path.to_path_buf(),
        devices,
        nodes,
    })
}

fn read_device(
    r: &Reader,
    name: &str,
    table: &RawDevice,
    registry: &Registry,
) -> Result<Device, String> {
    let what = format!("devices.{name}");
    let at = table.span().start;
    if !name_ok(name) {
        return Err(r.err(at, &what, "a device name is letters, digits, -, _ and ."));
    }
    let entries = table.get_ref();
    let get = |key: &str| entries.iter().find(|(k, _)| k.get_ref() == key);
    let Some((_, agent_value)) = get("agent") else {
        return Err(r.err(
            at,
            &what,
            "no agent; say which one drives it (agent = \"fence_apc_snmp\")",
        ));
    };
    let agent_name = match agent_value.get_ref() {
        toml::Value::String(s) => s.clone(),
        _ => return Err(r.err(agent_value.span().start, &what, "agent is a name in quotes")),
    };
    let agent = find_agent(registry, &agent_name)
        .map_err(|e| r.err(agent_value.span().start, &format!("{what}.agent"), e))?;
    let mut options = Vec::new();
    let mut parent = Parent::Unknown;
    for (key, value) in entries {
        let (k, field) = (key.get_ref().as_str(), format!("{what}.{}", key.get_ref()));
        let at = key.span().start;
        match k {
            "agent" => continue,
            "parent" => {
                parent = match value.get_ref() {
                    toml::Value::String(s) if s == "mains" => Parent::Mains,
                    toml::Value::String(s) => {
                        Parent::Feed(feed_text(s).map_err(|e| r.err(at, &field, e))?)
                    }
                    _ => {
                        return Err(r.err(
                            at,
                            &field,
                            "parent is \"device:plug\", \"device\" or \"mains\"",
                        ))
                    }
                };
                continue;
            }
            _ => {}
        }
        let (base, from_file) = match k.strip_suffix("_file") {
            Some(base) if secret_key(&agent, base).is_some() => (base, true),
            _ => (k, false),
        };
        let Some(spec) = input::resolve_key(base, &agent.options) else {
            return Err(r.err(
                at,
                &field,
                format!(
                    "{agent_name} has no option {base} ('fencebox {agent_name} --help' lists them)"
                ),
            ));
        };
        if DECIDED_PER_CALL.contains(&spec.key.as_ref()) {
            return Err(r.err(
                at,
                &field,
                "set by each command (the node's feeds say the plugs); remove it here",
            ));
        }
        let text =
            plain_value(value.get_ref()).map_err(|e| r.err(value.span().start, &field, e))?;
        let v = if from_file {
            Value::SecretFile(PathBuf::from(text))
        } else {
            if spec.secret && !r.private {
                return Err(r.err(at, &field, format!(
                    "a secret inline in a file others can read; use {k}_file = \"/path\" (or {}_script where the agent has one), or chmod 600 the inventory",
                    k
                )));
            }
            Value::Plain(text)
        };
        if options.iter().any(|(seen, _)| *seen == spec.key.as_ref()) {
            return Err(r.err(
                at,
                &field,
                format!("{} is given twice (under two spellings)", spec.key),
            ));
        }
        options.push((spec.key.to_string(), v));
    }
    Ok(Device {
        name: name.to_string(),
        agent,
        options,
        parent,
        line: r.line(at),
    })
}

/// The option a `<key>_file` entry gives from a file: only secret ones.
fn secret_key<'a>(agent: &'a Agent, base: &str) -> Option<&'a crate::contract::options::OptSpec> {
    input::resolve_key(base, &agent.options).filter(|o| o.secret)
}

fn find_agent(registry: &Registry, name: &str) -> Result<Agent, String> {
    let found = registry
        .find(name)?
        .ok_or_else(|| format!("no agent called {name} ('fencebox agents' lists them)"))?;
    option_set::resolve(found.def, found.symlink.as_ref())
}

/// An option value as text: strings, whole numbers, decimals and true/false.
fn plain_value(v: &toml::Value) -> Result<String, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => String::from(if *b { "1" } else { "0" }),
        _ => return Err("an option value is a string, a number or true/false".into()),
    };
    if text.contains(['\n', '\r', '\0']) {
        return Err("a value is one line (no line breaks or NUL)".into());
    }
    Ok(text)
}

/// `device:plug` or `device`.
fn feed_text(s: &str) -> Result<Feed, String> {
    let (device, plug) = s.split_once(':').unwrap_or((s, ""));
    if !name_ok(device) || (s.contains(':') && plug.trim().is_empty()) {
        return Err(format!(
            "'{s}' is not a feed; write device:plug (pdu1:7) or a device without plugs (bmc07)"
        ));
    }
    Ok(Feed {
        device: device.to_string(),
        plug: plug.trim().to_string(),
    })
}

/// A feed that names a device of the inventory, with a plug exactly when it has plugs.
fn device_feed(s: &str, devices: &BTreeMap<String, Device>) -> Result<Feed, String> {
    let feed = feed_text(s)?;
    let Some(device) = devices.get(&feed.device) else {
        return Err(format!("no device called {} in [devices]", feed.device));
    };
    match (device.has_plugs(), feed.plug.is_empty()) {
        (true, true) => Err(format!(
            "{} ({}) has plugs; say which: {}:<plug>",
            feed.device, device.agent.name, feed.device
        )),
        (false, false) => Err(format!(
            "{} ({}) has no plugs; write {} alone",
            feed.device, device.agent.name, feed.device
        )),
        _ => Ok(feed),
    }
}

fn read_node(
    r: &Reader,
    name: &str,
    node: &Spanned<RawNode>,
    devices: &BTreeMap<String, Device>,
) -> Result<Node, String> {
    let what = format!("nodes.{name}");
    let at = node.span().start;
    if !name_ok(name) || name == "all" {
        return Err(r.err(
            at,
            &what,
            "a node name is letters, digits, -, _ and . (and not 'all', which host lists reserve)",
        ));
    }
    let raw = node.get_ref();
    let mut feeds = Vec::new();
    for f in &raw.feeds {
        let feed = device_feed(f.get_ref(), devices)
            .map_err(|e| r.err(f.span().start, &format!("{what}.feeds"), e))?;
        if feeds.contains(&feed) {
            return Err(r.err(
                f.span().start,
                &format!("{what}.feeds"),
                format!("{feed} is listed twice"),
            ));
        }
        feeds.push(feed);
    }
    let bmc = match &raw.bmc {
        Some(b) => Some(
            device_feed(b.get_ref(), devices)
                .map_err(|e| r.err(b.span().start, &format!("{what}.bmc"), e))?,
        ),
        None => None,
    };
    if feeds.is_empty() && bmc.is_none() {
        return Err(r.err(
            at,
            &what,
            "neither feeds nor a bmc: say what powers it (feeds = [\"pdu1:7\"])",
        ));
    }
    let mut groups = Vec::new();
    for g in &raw.groups {
        if !name_ok(g.get_ref()) || g.get_ref() == "all" {
            return Err(r.err(
                g.span().start,
                &format!("{what}.groups"),
                format!(
                    "'{}' is not a group name (letters, digits, -, _ and .; not 'all')",
                    g.get_ref()
                ),
            ));
        }
        groups.push(g.get_ref().clone());
    }
    Ok(Node {
        name: name.to_string(),
        groups,
        feeds,
        bmc,
        line: r.line(at),
    })
}

/// Parents name devices of the inventory, with a plug when they have plugs, and no device
/// is its own ancestor.
/// A feed as a key that two spellings of one outlet share (`7` and `07`).
fn same_outlet(f: &Feed) -> (String, String) {
    let plug = match f.plug.parse::<u64>() {
        Ok(n) => n.to_string(),
        Err(_) => f.plug.clone(),
    };
    (f.device.clone(), plug)
}

fn check_chain(
    r: &Reader,
    devices: &BTreeMap<String, Device>,
    raw: &RawFile,
) -> Result<(), String> {
    for (name, d) in devices {
        let at = raw.devices[name].span().start;
        if let Parent::Feed(f) = &d.parent {
            device_feed(&f.to_string(), devices)
                .map_err(|e| r.err(at, &format!("devices.{name}.parent"), e))?;
        }
    }
    for (name, d) in devices {
        let at = raw.devices[name].span().start;
        let mut seen = BTreeSet::from([name.as_str()]);
        let mut at_device = d;
        while let Parent::Feed(f) = &at_device.parent {
            if !seen.insert(f.device.as_str()) {
                return Err(r.err(
                    at,
                    &format!("devices.{name}.parent"),
                    format!(
                        "the chain from {name} comes back to {}: a device cannot power itself",
                        f.device
                    ),
                ));
            }
            // Every parent names a device (checked above, for every device first).
            let Some(next) = devices.get(&f.device) else {
                break;
            };
            at_device = next;
        }
    }
    Ok(())
}

/// A device's options as agent stdin (`key=value` lines) for `action`, secrets read from
/// their files. Plugs are not among them: fleet commands address plugs themselves.
pub fn stdin_for(device: &Device, action: &str) -> Result<String, String> {
    let mut text = format!("action={action}\n");
    for (key, value) in &device.options {
        let v = match value {
            Value::Plain(v) => v.clone(),
            Value::SecretFile(path) => read_secret(path).map_err(|e| {
                format!(
                    "device {} (line {}): {key}_file: {e}",
                    device.name, device.line
                )
            })?,
        };
        text.push_str(&format!("{key}={v}\n"));
    }
    Ok(text)
}

/// The first line of a secret file.
fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {} ({e})", path.display()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(format!(
            "{} is empty; put the secret on its first line",
            path.display()
        ));
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::load(Path::new("/nonexistent-fencebox-agents.d"))
    }

    fn read(text: &str, private: bool) -> Result<Inventory, String> {
        parse(Path::new("inv.toml"), text, private, &registry())
    }

    const GOOD: &str = r#"
[devices.ups1]
agent = "fence_nut"
ip = "10.0.0.5"
ups_name = "ups1"
username = "fence"
password_file = "/etc/fencebox/secrets/ups1"
parent = "mains"

[devices.pdu1]
agent = "fence_apc_snmp"
ip = "10.0.0.11"
community_file = "/etc/fencebox/secrets/pdu1"
ipport = 161
parent = "ups1:3"

[devices.pdu2]
agent = "fence_apc_snmp"
ip = "10.0.0.12"
community = "private"

[devices.bmc07]
agent = "fence_ipmilan"
ip = "10.0.1.7"
username = "admin"
password_script = "cat /etc/fencebox/secrets/bmc07"
lanplus = true

[nodes.node07]
groups = ["rack2", "compute"]
feeds = ["pdu1:7", "pdu2:7"]
bmc = "bmc07"

[nodes.node08]
feeds = ["pdu1:8"]
"#;

    #[test]
    fn a_whole_site_reads() {
        let inv = read(GOOD, true).unwrap();
        assert_eq!(inv.devices.len(), 4);
        let n = inv.node("node07").unwrap();
        assert_eq!(n.groups, ["rack2", "compute"]);
        assert_eq!(
            n.feeds.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["pdu1:7", "pdu2:7"]
        );
        assert_eq!(n.bmc.as_ref().unwrap().to_string(), "bmc07");
        assert_eq!(
            inv.devices["pdu1"].parent,
            Parent::Feed(Feed {
                device: "ups1".into(),
                plug: "3".into()
            })
        );
        assert_eq!(inv.devices["ups1"].parent, Parent::Mains);
        assert!(inv.devices["pdu1"].options.contains(&(
            "community".into(),
            Value::SecretFile("/etc/fencebox/secrets/pdu1".into())
        )));
        // Values of every TOML kind become the text an agent reads.
        assert!(inv.devices["pdu1"]
            .options
            .contains(&("ipport".into(), Value::Plain("161".into()))));
        assert!(inv.devices["bmc07"]
            .options
            .contains(&("lanplus".into(), Value::Plain("1".into()))));
        assert_eq!(
            inv.node_fed_by(&Feed {
                device: "pdu2".into(),
                plug: "7".into()
            })
            .unwrap()
            .name,
            "node07"
        );
    }

    /// Each broken file is one line naming the file, the line and the field.
    #[test]
    fn every_problem_names_file_line_and_field() {
        let cases: &[(&str, &str, &str)] = &[
            ("[devices.a]\nagent = \"fence_nope\"\n", "inv.toml:2: devices.a.agent: no agent called fence_nope", "unknown agent"),
            ("[devices.a]\nip = \"x\"\n", "inv.toml:1: devices.a: no agent", "agent missing"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\ncolour = \"red\"\n", "inv.toml:4: devices.a.colour: fence_apc_snmp has no option colour", "unknown option"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nport = \"3\"\n", "inv.toml:3: devices.a.port: set by each command", "plug in a device"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = [1, 2]\n", "inv.toml:3: devices.a.ip: an option value is a string", "array value"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.n1]\nfeeds = [\"b:1\"]\n", "inv.toml:6: nodes.n1.feeds: no device called b", "feed to an unknown device"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.n1]\nfeeds = [\"a\"]\n", "inv.toml:6: nodes.n1.feeds: a (fence_apc_snmp) has plugs", "feed without a plug"),
            ("[devices.b]\nagent = \"fence_ipmilan\"\nip = \"x\"\n\n[nodes.n1]\nbmc = \"b:2\"\n", "inv.toml:6: nodes.n1.bmc: b (fence_ipmilan) has no plugs", "plug on a plugless device"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.n1]\nfeeds = [\"a:1\"]\n[nodes.n2]\nfeeds = [\"a:1\"]\n", "already powers node n1", "a feed on two nodes"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.n1]\nfeeds = [\"a:1\", \"a:1\"]\n", "a:1 is listed twice", "a feed twice"),
            ("[nodes.n1]\ngroups = [\"x\"]\n", "nodes.n1: neither feeds nor a bmc", "a node without power"),
            ("[nodes.n1]\nfeed = [\"a:1\"]\n", "inv.toml:2: unknown field `feed`", "misspelt field"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\nparent = \"b:1\"\n[devices.b]\nagent = \"fence_apc_snmp\"\nip = \"y\"\nparent = \"a:2\"\n", "comes back to a", "a loop in the chain"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\nparent = \"ups9:1\"\n", "devices.a.parent: no device called ups9", "unknown parent"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\ncommunity = \"private\"\n", "inv.toml:4: devices.a.community: a secret inline in a file others can read", "inline secret"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\nip = \"y\"\n", "inv.toml:4:", "duplicate key"),
            ("[devices.a\n", "inv.toml:1:", "TOML syntax"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\nparent = \"b:1\"\n[devices.b]\nagent = \"fence_apc_snmp\"\nip = \"y\"\nparent = \"zzz:1\"\n", "devices.b.parent: no device called zzz", "a chain through an unknown device"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.all]\nfeeds = [\"a:1\"]\n", "not 'all'", "a node called all"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n\n[nodes.n1]\nfeeds = [\"a:7\"]\n[nodes.n2]\nfeeds = [\"a:07\"]\n", "a:07 already powers node n1", "one outlet in two spellings"),
            ("[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\n[devices.b]\nagent = \"fence_apc_snmp\"\nip = \"y\"\nparent = \"a:3\"\n\n[nodes.n1]\nfeeds = [\"a:3\"]\n", "a:3 already powers device b", "a node on the outlet that feeds a PDU"),
            ("[devices.\"a b\"]\nagent = \"fence_apc_snmp\"\n", "devices.a b: a device name is", "bad name"),
        ];
        for (text, wanted, what) in cases {
            let e = read(text, false)
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(e.contains(wanted), "{what}: {e}");
            assert_eq!(e.lines().count(), 1, "{what}: {e}");
        }
    }

    #[test]
    fn a_secret_inline_is_fine_in_a_private_file() {
        let text = "[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\ncommunity = \"private\"\n";
        assert!(read(text, true).is_ok());
        assert!(read(text, false).is_err());
    }

    #[test]
    fn secrets_from_files_reach_the_agent_and_an_empty_file_is_named() {
        let dir = std::env::temp_dir().join(format!("fencebox-inv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("pdu");
        std::fs::write(&secret, "s3cret\nignored\n").unwrap();
        let text = format!(
            "[devices.a]\nagent = \"fence_apc_snmp\"\nip = \"x\"\ncommunity_file = \"{}\"\n",
            secret.display()
        );
        let inv = read(&text, false).unwrap();
        let stdin = stdin_for(&inv.devices["a"], "status").unwrap();
        assert_eq!(stdin, "action=status\ncommunity=s3cret\nipaddr=x\n");
        std::fs::write(&secret, "").unwrap();
        let e = stdin_for(&inv.devices["a"], "status").unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
