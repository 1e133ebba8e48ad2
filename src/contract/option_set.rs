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
    let mut keys: Vec<Text> = Vec::new();
    let push = |k: Text, keys: &mut Vec<Text>| {
        if !keys.contains(&k) {
            keys.push(k);
        }
    };
    for k in DEFAULT_GROUP
        .iter()
        .map(|k| t(k))
        .chain(def.device_opt.iter().cloned())
    {
        push(k, &mut keys);
    }
    // Dependencies can chain, so expand until nothing new appears.
    loop {
        let before = keys.len();
        for (trigger, deps) in DEPENDENCIES {
            if keys.iter().any(|k| k == trigger) {
                for d in *deps {
                    push(t(d), &mut keys);
                }
            }
        }
        if keys.len() == before {
            break;
        }
    }
    // Agents that reach one device by address and have no plug concept take the device
    // address from the plug when port_as_ip is set (fence-agents protocol §1.3).
    let has_key = |keys: &[Text], k: &str| keys.iter().any(|x| x == k);
    let port_as_ip =
        !has_key(&keys, "port") && !has_key(&keys, "nodename") && has_key(&keys, "ipaddr");
    if port_as_ip {
        push(t("port_as_ip"), &mut keys);
        push(t("port"), &mut keys);
    }

    let mut markers = Vec::new();
    let mut opts: Vec<OptSpec> = Vec::new();
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

    let no_login = has_key(&markers, "no_login");
    // Fabric agents cut a node off rather than power it down: no reboot, default off.
    if has_key(&markers, "fabric_fencing") {
        if let Some(o) = opts.iter_mut().find(|o| o.key == "action") {
            o.default = Some(t("off"));
        }
    }
    for o in &mut opts {
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
    let ipport_default = default_ipport(&opts);
    if let (Some(o), Some(d)) = (opts.iter_mut().find(|o| o.key == "ipport"), ipport_default) {
        if o.default.is_none() {
            o.default = Some(t(d));
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
