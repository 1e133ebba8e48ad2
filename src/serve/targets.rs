//! What a request may switch, found in one snapshot of the inventory: nodes by name, a
//! device's outlets as one-feed targets, and the check of a token's node list against
//! every node a target powers (a node, or every node an outlet feeds, a blade chassis'
//! or twin server's shared outlet included).

use std::collections::HashMap;

use axum::http::StatusCode;

use crate::fleet::inventory::{Feed, Inventory, Node};
use crate::serve::http::{fail, Failure};
use crate::serve::tokens::{Holder, Scope};

/// The longest plug name a request may give.
const MAX_PLUG: usize = 128;

/// A node of the inventory, or 404.
pub fn node(inv: &Inventory, name: &str) -> Result<Node, Failure> {
    inv.node(name).cloned().ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            format!("no node {name} in the inventory"),
        )
    })
}

/// A plug a client names goes into the agent's options: one printable line, bounded.
pub fn check_plug(plug: &str) -> Result<(), Failure> {
    if plug.is_empty() || plug.chars().count() > MAX_PLUG || plug.chars().any(char::is_control) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("a plug is 1 to {MAX_PLUG} printable characters"),
        ));
    }
    Ok(())
}

/// A device's outlet as a one-feed target; the device must be in the inventory (by its
/// name, or by the PDUDaemon host name it was imported from).
pub fn outlet(
    inv: &Inventory,
    hosts: &HashMap<String, String>,
    device: &str,
    plug: &str,
) -> Result<Node, Failure> {
    let known = inv
        .devices
        .get(device)
        .or_else(|| hosts.get(device).and_then(|name| inv.devices.get(name)));
    let Some(d) = known else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no device {device} in the inventory"),
        ));
    };
    let plug = if d.has_plugs() {
        check_plug(plug)?;
        canonical(plug)
    } else {
        String::new()
    };
    Ok(outlet_target(
        inv,
        Feed {
            device: d.name.clone(),
            plug,
        },
    ))
}

/// A number without leading zeros (`07` is outlet 7, as PDUDaemon reads it); a name as
/// it is.
fn canonical(plug: &str) -> String {
    match plug.trim().parse::<u64>() {
        Ok(n) => n.to_string(),
        Err(_) => plug.to_string(),
    }
}

/// Two spellings of one plug: `07` and `7`.
fn same_plug(a: &str, b: &str) -> bool {
    a == b || canonical(a) == canonical(b)
}

/// Every node the feed powers (as a PSU's feed or as its BMC).
pub fn nodes_fed_by<'a>(inv: &'a Inventory, feed: &Feed) -> Vec<&'a Node> {
    inv.nodes
        .iter()
        .filter(|n| {
            n.feeds
                .iter()
                .chain(n.bmc.iter())
                .any(|f| f.device == feed.device && same_plug(&f.plug, &feed.plug))
        })
        .collect()
}

/// A stand-in target for one outlet: named after the node it feeds when the inventory
/// has one (so the node's name shows), else after the feed.
pub fn outlet_target(inv: &Inventory, feed: Feed) -> Node {
    let name = match nodes_fed_by(inv, &feed).first() {
        Some(n) => format!("{} ({feed})", n.name),
        None => feed.to_string(),
    };
    Node {
        name,
        groups: vec![],
        feeds: vec![feed],
        bmc: None,
        line: 0,
    }
}

/// Every outlet of a device that the inventory's nodes use, as one-feed targets.
pub fn device_outlets(inv: &Inventory, device: &str) -> Result<Vec<Node>, Failure> {
    if !inv.devices.contains_key(device) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no device {device} in the inventory"),
        ));
    }
    let targets: Vec<Node> = plugs_of(inv, device)
        .into_iter()
        .map(|plug| {
            outlet_target(
                inv,
                Feed {
                    device: device.to_string(),
                    plug,
                },
            )
        })
        .collect();
    if targets.is_empty() {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no node of the inventory is fed by {device}"),
        ));
    }
    Ok(targets)
}

/// The plugs of a device that the inventory's nodes name, in order, each once.
pub fn plugs_of(inv: &Inventory, device: &str) -> Vec<String> {
    let mut plugs: Vec<String> = inv
        .nodes
        .iter()
        .flat_map(|n| n.feeds.iter().chain(n.bmc.iter()))
        .filter(|f| f.device == device)
        .map(|f| f.plug.clone())
        .collect();
    plugs.sort_by_key(|p| (p.parse::<u64>().unwrap_or(u64::MAX), p.clone()));
    plugs.dedup();
    plugs
}

/// Whether `who` may switch every target: a control token whose node list covers every
/// node a target powers; a feed that powers no node of the inventory takes a token for
/// all nodes.
pub fn may_switch(who: &Holder, targets: &[Node], inv: &Inventory) -> Result<(), Failure> {
    if who.scope != Scope::Control {
        return Err(fail(
            StatusCode::FORBIDDEN,
            format!("token {} may read, not switch", who.name),
        ));
    }
    for t in targets {
        let mut powered: Vec<&Node> = inv.node(&t.name).into_iter().collect();
        for f in t.power_feeds() {
            let nodes = nodes_fed_by(inv, &f);
            if nodes.is_empty() && !who.may_switch_all() {
                return Err(fail(
                    StatusCode::FORBIDDEN,
                    format!(
                        "token {} may not switch {f}: it feeds no node, which takes a token for all nodes",
                        who.name
                    ),
                ));
            }
            powered.extend(nodes);
        }
        if let Some(n) = powered.iter().find(|n| !who.may_switch(n)) {
            return Err(fail(
                StatusCode::FORBIDDEN,
                format!("token {} may not switch {}", who.name, n.name),
            ));
        }
    }
    Ok(())
}
