//! What the service's jobs run with: the inventory (with the PDUs and aliases of a
//! pdudaemon.conf when one is configured), the agents' registry and the environment, read
//! together from the configuration and swapped whole on a reload.

use std::collections::HashMap;
use std::path::Path;

use crate::contract::agents::Registry;
use crate::fleet::inventory::{self, Inventory};
use crate::runtime::env::Env;
use crate::serve::config::Config;

/// What the service runs jobs with; swapped whole on a reload.
pub struct World {
    pub inventory: Inventory,
    pub registry: Registry,
    pub env: Env,
    /// PDUDaemon host names (`127.0.0.1:16162`) of devices a pdudaemon.conf brought, by
    /// which requests may name them, and the inventory names they have.
    pub hosts: HashMap<String, String>,
}

/// What jobs run with, read from the configuration.
pub fn world(config: &Config, env: &Env) -> Result<World, String> {
    let registry = Registry::load(&env.agents_dir);
    let path = config
        .inventory
        .clone()
        .unwrap_or_else(|| env.inventory.clone());
    let mut inventory = inventory::load(&path, &registry)?;
    let mut hosts = HashMap::new();
    if let Some(conf) = config.pdudaemon.as_ref().and_then(|p| p.config.as_ref()) {
        hosts = merge_pdudaemon(&mut inventory, conf, &registry)?;
    }
    Ok(World {
        inventory,
        registry,
        hosts,
        env: Env {
            // The service is not pacemaker-fenced, whatever its environment says.
            under_pacemaker: false,
            ..env.clone()
        },
    })
}

/// Add the PDUs and aliases of a pdudaemon.conf to the inventory (as `fencebox inventory
/// import pdudaemon` would write them), each note of the import said once. A name both
/// have is an error: which one a client means would be a guess. Returns the PDUs' host
/// names by which requests may name them, with their inventory names.
fn merge_pdudaemon(
    inv: &mut inventory::Inventory,
    conf: &Path,
    registry: &Registry,
) -> Result<HashMap<String, String>, String> {
    use crate::fleet::import::{self, Secrets, Source};
    let text = import::read_input(Source::PduDaemon, Some(conf))?;
    let imported = import::pdudaemon::import(&text, registry, Secrets::Inline)
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    for note in &imported.notes {
        eprintln!("fencebox serve: {}: {note}", conf.display());
    }
    let extra = inventory::parse(conf, &imported.toml, true, registry)?;
    // The import names a PDU after its host name, made a device name.
    let hosts: HashMap<String, String> = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("pdus")?.as_object().cloned())
        .into_iter()
        .flat_map(|pdus| pdus.into_iter().map(|(host, _)| host))
        .map(|host| (import::inventory_name(&host), host))
        .filter(|(name, host)| name != host && extra.devices.contains_key(name))
        .map(|(name, host)| (host, name))
        .collect();
    for (name, device) in extra.devices {
        if inv.devices.contains_key(&name) {
            return Err(format!(
                "{}: PDU {name} is also a device of {}; rename one",
                conf.display(),
                inv.path.display()
            ));
        }
        inv.devices.insert(name, device);
    }
    for node in extra.nodes {
        if inv.node(&node.name).is_some() {
            return Err(format!(
                "{}: alias {} is also a node of {}; rename one",
                conf.display(),
                node.name,
                inv.path.display()
            ));
        }
        inv.nodes.push(node);
    }
    inv.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(hosts)
}
