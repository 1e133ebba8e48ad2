//! The options one agent takes: fence-agents' `device_opt` expansion (default group,
//! dependencies, the port-as-ip rule), agent and alias default overrides, and the
//! computed `ipport` default.

use crate::contract::agents::{AgentDef, Symlink};
use crate::contract::options::{self, t, OptSpec, Text, DEFAULT_GROUP, DEPENDENCIES, MARKERS};

/// A resolved agent: what it is called, which options it takes, which capabilities it has.
#[derive(Debug, Clone)]
pub struct Agent {
    /// argv[0] basename (an alias reports its own name, as fence-agents does).
    pub name: Text,
    pub def: AgentDef,
    pub options: Vec<OptSpec>,
    pub markers: Vec<Text>,
}

impl Agent {
    pub fn has(&self, key_or_marker: &str) -> bool {
        self.markers.iter().any(|m| m == key_or_marker)
            || self.options.iter().any(|o| o.key == key_or_marker)
    }

    pub fn option(&self, key: &str) -> Option<&OptSpec> {
        self.options.iter().find(|o| o.key == key)
    }

    /// Agents that take a plug list outlets; port-as-ip agents take a plug but have none.
    pub fn has_plugs(&self) -> bool {
        self.has("port") && !self.has("port_as_ip")
    }

    pub fn is_fabric(&self) -> bool {
        self.has("fabric_fencing")
    }

    /// Every name this agent's family can be invoked as, with descriptions.
    pub fn symlinks(&self) -> &[Symlink] {
        &self.def.symlinks
    }

    /// The actions this agent accepts, in metadata order (fence-agents protocol §3.1, §4.4).
    pub fn actions(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.has("no_on") {
            v.push("on");
        }
        if !self.has("no_off") {
            v.push("off");
        }
        if !self.is_fabric() {
            v.push("reboot");
        }
        if !self.has("no_status") {
            v.push("status");
        }
        if self.has("separator") {
            v.push("list");
            v.push("list-status");
        }
        v.extend(["monitor", "metadata", "manpage", "validate-all"]);
        if self.has("diag") {
            v.push("diag");
        }
        v
    }
}

/// Build the option set of `def` as invoked under `symlink` (an alias) or its own name.
pub fn resolve(def: AgentDef, symlink: Option<&Symlink>) -> Result<Agent, String> {
    let name = symlink.map_or_else(|| def.name.clone(), |s| s.name.clone());
    let (keys, port_as_ip) = expand_keys(&def);
    let (markers, mut opts) = specs_of(&def, keys)?;
    apply_default_overrides(&def, symlink, &mut opts)?;
    adjust_to_markers(&mut opts, &markers, port_as_ip);
    if let Some(d) = default_ipport(&opts) {
        if let Some(o) = opts.iter_mut().find(|o| o.key == "ipport") {
            o.default.get_or_insert_with(|| t(d));
        }
    }
    check_unique_letters(&name, &opts)?;
    Ok(Agent {
        name,
        def,
        options: opts,
        markers,
    })
}

fn has_key(keys: &[Text], k: &str) -> bool {
    keys.iter().any(|x| x == k)
}

fn push_new(keys: &mut Vec<Text>, k: Text) {
    if !keys.contains(&k) {
        keys.push(k);
    }
}

/// fence-agents' `device_opt` expansion: the default group, the agent's own keys, their
/// dependencies, and the port-as-ip rule (whether it applies is the second value).
fn expand_keys(def: &AgentDef) -> (Vec<Text>, bool) {
    let mut keys: Vec<Text> = Vec::new();
    for k in DEFAULT_GROUP
        .iter()
        .map(|k| t(k))
        .chain(def.device_opt.iter().cloned())
    {
        push_new(&mut keys, k);
    }
    // Dependencies can chain, so expand until nothing new appears.
    loop {
        let before = keys.len();
        for (trigger, deps) in DEPENDENCIES {
            if has_key(&keys, trigger) {
                for d in *deps {
                    push_new(&mut keys, t(d));
                }
            }
        }
        if keys.len() == before {
            break;
        }
    }
    // Agents that reach one device by address and have no plug concept take the device
    // address from the plug when port_as_ip is set (fence-agents protocol §1.3).
    let port_as_ip =
        !has_key(&keys, "port") && !has_key(&keys, "nodename") && has_key(&keys, "ipaddr");
    if port_as_ip {
        push_new(&mut keys, t("port_as_ip"));
        push_new(&mut keys, t("port"));
    }
    (keys, port_as_ip)
}

/// The keys split into capability markers and option specs (the agent's own declaration
/// first, then the common table).
fn specs_of(def: &AgentDef, keys: Vec<Text>) -> Result<(Vec<Text>, Vec<OptSpec>), String> {
    let mut markers = Vec::new();
    let mut opts = Vec::new();
    for k in keys {
        if MARKERS.contains(&&*k) {
            markers.push(k);
            continue;
        }
        let spec = def
            .options
            .iter()
            .find(|o| o.key == k)
            .or_else(|| options::common(&k))
            .ok_or_else(|| format!("{}: device_opt names unknown option '{k}'", def.name))?;
        opts.push(spec.clone());
    }
    Ok((markers, opts))
}

/// The defaults the agent file changes, then those its alias changes.
fn apply_default_overrides(
    def: &AgentDef,
    symlink: Option<&Symlink>,
    opts: &mut [OptSpec],
) -> Result<(), String> {
    let overrides = def
        .defaults
        .iter()
        .chain(symlink.map(|s| &*s.defaults).unwrap_or(&[]));
    for (k, v) in overrides {
        let o = opts
            .iter_mut()
            .find(|o| o.key == *k)
            .ok_or_else(|| format!("{}: default given for unknown option '{k}'", def.name))?;
        o.default = Some(v.clone());
    }
    Ok(())
}

/// What the markers and the port-as-ip rule change in the options themselves.
fn adjust_to_markers(opts: &mut [OptSpec], markers: &[Text], port_as_ip: bool) {
    let no_login = has_key(markers, "no_login");
    // Fabric agents cut a node off rather than power it down: no reboot, default off.
    if has_key(markers, "fabric_fencing") {
        if let Some(o) = opts.iter_mut().find(|o| o.key == "action") {
            o.default = Some(t("off"));
        }
    }
    for o in opts {
        match &*o.key {
            "login" => o.required = !no_login,
            "ipaddr" if port_as_ip => o.required = false,
            "port" if port_as_ip => {
                o.required = false;
                o.value = Some(t("ip"));
                o.help = t("Address of the fence device when port_as_ip is set");
            }
            _ => {}
        }
    }
}

/// fence-agents protocol §1.5: the port follows from the transport the agent speaks.
fn default_ipport(opts: &[OptSpec]) -> Option<&'static str> {
    let has = |k: &str| opts.iter().find(|o| o.key == k);
    if has("community").is_some() {
        Some("161")
    } else if has("secure").is_some_and(|o| o.default.as_deref() == Some("1")) {
        Some("22")
    } else if has("telnet_path").is_some() {
        Some("23")
    } else {
        None
    }
}

fn check_unique_letters(agent: &str, opts: &[OptSpec]) -> Result<(), String> {
    for (i, a) in opts.iter().enumerate() {
        for b in &opts[i + 1..] {
            if a.short.is_some() && a.short == b.short {
                return Err(format!(
                    "{agent}: options {} and {} share the letter -{}",
                    a.key,
                    b.key,
                    a.short.unwrap_or('?')
                ));
            }
            if a.long == b.long {
                return Err(format!("{agent}: two options are called --{}", a.long));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::agents;

    #[test]
    fn every_builtin_agent_and_alias_resolves() {
        for def in agents::builtin() {
            resolve(def.clone(), None).unwrap();
            for s in def.symlinks.iter() {
                resolve(def.clone(), Some(s)).unwrap();
            }
        }
    }

    #[test]
    fn dummy_has_no_plug_and_no_list() {
        let found = agents::Registry::load(&crate::runtime::env::Env::default().agents_dir)
            .find("fence_dummy")
            .unwrap()
            .unwrap();
        let a = resolve(found.def, None).unwrap();
        assert!(!a.has("port"));
        assert!(!a.actions().contains(&"list"));
        assert!(a.has("status_file"));
    }
}
