//! The power chain of each node: its feeds and, for each, the parents up to the mains
//! (node ← PSU ← pdu:outlet ← ups:outlet ← mains), with the live state of every link, and
//! the risks it shows: a device every feed of a node goes through (a single point of
//! failure), and, live, a node whose only working feeds run on a UPS on battery.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::device::{PowerState, PowerSupply, Supply};
use crate::fleet::inventory::{Feed, Inventory, Parent};
use crate::fleet::power::{Health, Readings};

/// One link of a chain: a feed and what was read of it.
#[derive(Debug, Clone)]
pub struct Link {
    pub feed: Feed,
    pub state: Option<PowerState>,
    pub error: Option<String>,
    /// What the feed's device says of its own supply (a UPS).
    pub supply: Option<Supply>,
}

/// Where a chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    Mains,
    /// The inventory does not say what powers the last device.
    Unknown,
}

/// A node's feed and its parents, nearest first.
#[derive(Debug, Clone)]
pub struct FeedChain {
    pub links: Vec<Link>,
    pub top: Top,
}

impl FeedChain {
    fn devices(&self) -> BTreeSet<&str> {
        self.links.iter().map(|l| l.feed.device.as_str()).collect()
    }

    /// Every link read on (live data only).
    fn working(&self) -> bool {
        self.links
            .iter()
            .all(|l| l.state == Some(PowerState::On) && l.error.is_none())
    }

    /// The devices of the chain running on battery, with their words.
    fn on_battery(&self) -> Vec<(&str, &Supply)> {
        self.links
            .iter()
            .filter_map(|l| {
                l.supply
                    .as_ref()
                    .filter(|s| s.on_battery || s.low_battery)
                    .map(|s| (l.feed.device.as_str(), s))
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct NodeChain {
    pub node: String,
    /// One per power supply, in the inventory's order.
    pub psus: Vec<FeedChain>,
    pub bmc: Option<Feed>,
    /// The power supplies the BMC reports (live data; None: not read, or it has none).
    pub bmc_psus: Option<Result<Vec<PowerSupply>, String>>,
}

/// The chains of `nodes` as the inventory draws them (nothing read yet).
pub fn chains(inv: &Inventory, nodes: &[String]) -> Vec<NodeChain> {
    nodes
        .iter()
        .filter_map(|n| inv.node(n))
        .map(|n| NodeChain {
            node: n.name.clone(),
            psus: n.feeds.iter().map(|f| feed_chain(inv, f)).collect(),
            bmc: n.bmc.clone(),
            bmc_psus: None,
        })
        .collect()
}

fn feed_chain(inv: &Inventory, feed: &Feed) -> FeedChain {
    let mut links = Vec::new();
    let mut at = feed.clone();
    loop {
        let parent = inv.devices.get(&at.device).map(|d| d.parent.clone());
        links.push(Link {
            feed: at,
            state: None,
            error: None,
            supply: None,
        });
        // The inventory refuses loops, so this ends.
        match parent {
            Some(Parent::Feed(p)) => at = p,
            Some(Parent::Mains) => {
                return FeedChain {
                    links,
                    top: Top::Mains,
                }
            }
            _ => {
                return FeedChain {
                    links,
                    top: Top::Unknown,
                }
            }
        }
    }
}

/// Every feed of the chains and every BMC, each once (what a live view reads).
pub fn feeds(chains: &[NodeChain]) -> Vec<Feed> {
    let mut all = BTreeSet::new();
    for c in chains {
        for p in &c.psus {
            all.extend(p.links.iter().map(|l| l.feed.clone()));
        }
        all.extend(c.bmc.clone());
    }
    all.into_iter().collect()
}

/// Read every link of the chains (and every BMC) from its device, and put what was read
/// into the chains.
pub fn read_live(
    chains: &mut [NodeChain],
    inv: &Inventory,
    registry: &crate::contract::agents::Registry,
    env: &crate::runtime::env::Env,
    opts: &crate::fleet::power::Options,
) {
    let readings = crate::fleet::power::inspect(inv, registry, env, &feeds(chains), opts);
    fill(chains, &readings);
}

/// Put what was read into the chains.
pub fn fill(chains: &mut [NodeChain], readings: &Readings) {
    for link in chains
        .iter_mut()
        .flat_map(|c| c.psus.iter_mut())
        .flat_map(|p| p.links.iter_mut())
    {
        if let Some(r) = readings.feeds.get(&link.feed) {
            link.state = r.state;
            link.error = r.error.clone();
        }
        match readings.health.get(&link.feed.device) {
            Some(Ok(h)) => link.supply = h.supply.clone(),
            Some(Err(e)) if link.error.is_none() => link.error = Some(e.clone()),
            _ => {}
        }
    }
    for c in chains.iter_mut() {
        let Some(bmc) = &c.bmc else { continue };
        c.bmc_psus = match readings.health.get(&bmc.device) {
            Some(Ok(Health { psus: Some(p), .. })) => Some(Ok(p.clone())),
            Some(Err(e)) => Some(Err(e.clone())),
            _ => None,
        };
    }
}

/// A risk `chain check` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub node: String,
    /// single-point, single-feed, on-battery, unreadable
    pub kind: &'static str,
    pub text: String,
}

/// The risks of the chains; `live`: they hold what was read.
pub fn check(chains: &[NodeChain], live: bool) -> Vec<Risk> {
    let mut risks = Vec::new();
    for c in chains {
        let risk = |kind, text: String| Risk {
            node: c.node.clone(),
            kind,
            text,
        };
        if live {
            match &c.bmc_psus {
                Some(Ok(psus)) => {
                    for p in psus.iter().filter(|p| !p.faults.is_empty()) {
                        risks.push(risk(
                            "psu-failed",
                            format!(
                                "its BMC reports power supply '{}': {}",
                                p.name,
                                p.faults.join(", ")
                            ),
                        ));
                    }
                }
                Some(Err(e)) => risks.push(risk(
                    "unreadable",
                    format!("its BMC's power-supply sensors could not be read: {e}"),
                )),
                None => {}
            }
        }
        if c.psus.is_empty() {
            continue; // powered through its BMC only: no chain to judge
        }
        let mut common = c.psus[0].devices();
        for p in &c.psus[1..] {
            common = common.intersection(&p.devices()).copied().collect();
        }
        let feeds: Vec<String> = c.psus.iter().map(|p| p.links[0].feed.to_string()).collect();
        if c.psus.len() == 1 {
            risks.push(risk(
                "single-feed",
                format!(
                    "one feed only ({}): it and everything behind it is a single point of failure",
                    feeds[0]
                ),
            ));
        } else if !common.is_empty() {
            let names: Vec<&str> = common.into_iter().collect();
            risks.push(risk(
                "single-point",
                format!(
                    "every feed ({}) goes through {}: a single point of failure",
                    feeds.join(", "),
                    names.join(" and ")
                ),
            ));
        }
        if !live {
            continue;
        }
        for l in c.psus.iter().flat_map(|p| &p.links) {
            if let Some(e) = &l.error {
                risks.push(risk(
                    "unreadable",
                    format!("{} could not be read: {e}", l.feed),
                ));
            }
        }
        let working: Vec<&FeedChain> = c.psus.iter().filter(|p| p.working()).collect();
        if !working.is_empty() && working.iter().all(|p| !p.on_battery().is_empty()) {
            let mut upses: Vec<String> = working
                .iter()
                .flat_map(|p| p.on_battery())
                .map(|(d, s)| format!("{d} ({})", s.status))
                .collect();
            upses.dedup();
            let feeds: Vec<String> = working
                .iter()
                .map(|p| p.links[0].feed.to_string())
                .collect();
            let low = working
                .iter()
                .flat_map(|p| p.on_battery())
                .any(|(_, s)| s.low_battery);
            risks.push(risk(
                "on-battery",
                format!(
                    "its only working feed(s) ({}) run on battery: {}{}",
                    feeds.join(", "),
                    upses.join(", "),
                    if low { "; the battery is low" } else { "" }
                ),
            ));
        }
    }
    risks
}

fn link_text(l: &Link, live: bool) -> String {
    let mut t = l.feed.to_string();
    if live {
        let state = match (&l.error, l.state) {
            (Some(_), _) | (None, None) => "?",
            (None, Some(s)) => s.lower(),
        };
        t.push_str(&format!(" {state}"));
    }
    if let Some(s) = &l.supply {
        t.push_str(&format!(" [{}: {}]", l.feed.device, s.status));
    }
    t
}

/// The chains as text: a line per node, then a line per power supply, nearest first.
pub fn tree(chains: &[NodeChain], live: bool) -> String {
    let mut out = String::new();
    for c in chains {
        out.push_str(&c.node);
        out.push('\n');
        for (i, p) in c.psus.iter().enumerate() {
            let links: Vec<String> = p.links.iter().map(|l| link_text(l, live)).collect();
            let top = match p.top {
                Top::Mains => "mains",
                Top::Unknown => "(parent not in the inventory)",
            };
            out.push_str(&format!("  psu{} ← {} ← {top}\n", i + 1, links.join(" ← ")));
            for l in p.links.iter().filter(|l| l.error.is_some()) {
                out.push_str(&format!(
                    "        {}: {}\n",
                    l.feed,
                    l.error.as_deref().unwrap_or("")
                ));
            }
        }
        if let Some(b) = &c.bmc {
            out.push_str(&format!("  bmc  {b}"));
            match &c.bmc_psus {
                Some(Ok(psus)) if !psus.is_empty() => {
                    let said: Vec<String> = psus
                        .iter()
                        .map(|p| match (p.read, p.faults.as_slice()) {
                            (false, _) => format!("{}: no reading", p.name),
                            (true, []) => format!("{}: ok", p.name),
                            (true, f) => format!("{}: {}", p.name, f.join(", ")),
                        })
                        .collect();
                    out.push_str(&format!(" [{}]", said.join("; ")));
                }
                Some(Err(e)) => out.push_str(&format!(" [power supplies unreadable: {e}]")),
                _ => {}
            }
            out.push('\n');
        }
    }
    out
}

#[derive(Serialize)]
struct JsonLink<'a> {
    device: &'a str,
    plug: &'a str,
    state: Option<&'static str>,
    error: Option<&'a str>,
    supply: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonChain<'a> {
    node: &'a str,
    psus: Vec<JsonPsu<'a>>,
    bmc: Option<String>,
}

#[derive(Serialize)]
struct JsonPsu<'a> {
    links: Vec<JsonLink<'a>>,
    top: &'static str,
}

pub fn json(chains: &[NodeChain], risks: Option<&[Risk]>) -> String {
    let chains: Vec<JsonChain> = chains
        .iter()
        .map(|c| JsonChain {
            node: &c.node,
            bmc: c.bmc.as_ref().map(ToString::to_string),
            psus: c
                .psus
                .iter()
                .map(|p| JsonPsu {
                    top: match p.top {
                        Top::Mains => "mains",
                        Top::Unknown => "unknown",
                    },
                    links: p
                        .links
                        .iter()
                        .map(|l| JsonLink {
                            device: &l.feed.device,
                            plug: &l.feed.plug,
                            state: l.state.map(PowerState::lower),
                            error: l.error.as_deref(),
                            supply: l.supply.as_ref().map(|s| s.status.as_str()),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let value = match risks {
        Some(r) => serde_json::json!({ "ok": r.is_empty(), "risks": r, "chains": chains }),
        None => serde_json::json!({ "chains": chains }),
    };
    let mut t = serde_json::to_string_pretty(&value).unwrap_or_default();
    t.push('\n');
    t
}

/// `chain check`'s text: one line per risk, and a summary.
pub fn risks_text(risks: &[Risk], nodes: usize) -> String {
    let mut out = String::new();
    let width = risks.iter().map(|r| r.node.len()).max().unwrap_or(4);
    for r in risks {
        out.push_str(&format!(
            "RISK  {:<width$}  {:<12}  {}\n",
            r.node, r.kind, r.text
        ));
    }
    match risks.len() {
        0 => out.push_str(&format!("no risk found in {nodes} node(s)\n")),
        n => out.push_str(&format!("{n} risk(s) in {nodes} node(s)\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::agents::Registry;
    use crate::fleet::inventory;
    use crate::fleet::power::FeedResult;
    use std::path::Path;

    const SITE: &str = r#"
[devices.ups1]
agent = "fence_nut"
ip = "127.0.0.1"
ups_name = "ups1"
parent = "mains"
[devices.ups2]
agent = "fence_nut"
ip = "127.0.0.1"
ups_name = "ups2"
parent = "mains"
[devices.pdu1]
agent = "fence_apc_snmp"
ip = "10.0.0.1"
parent = "ups1:1"
[devices.pdu2]
agent = "fence_apc_snmp"
ip = "10.0.0.2"
parent = "ups2:1"
[devices.pdu3]
agent = "fence_apc_snmp"
ip = "10.0.0.3"
parent = "ups1:2"
[nodes.a]
feeds = ["pdu1:1", "pdu2:1"]
[nodes.b]
feeds = ["pdu1:2", "pdu3:2"]
[nodes.c]
feeds = ["pdu2:3"]
"#;

    fn site() -> (Inventory, Vec<NodeChain>) {
        let inv = inventory::parse(
            Path::new("t.toml"),
            SITE,
            true,
            &Registry::load(Path::new("/nonexistent")),
        )
        .unwrap();
        let names: Vec<String> = inv.nodes.iter().map(|n| n.name.clone()).collect();
        let c = chains(&inv, &names);
        (inv, c)
    }

    #[test]
    fn chains_go_up_to_the_mains() {
        let (_, c) = site();
        let t = tree(&c, false);
        assert!(
            t.contains("a\n  psu1 ← pdu1:1 ← ups1:1 ← mains\n  psu2 ← pdu2:1 ← ups2:1 ← mains\n"),
            "{t}"
        );
    }

    #[test]
    fn a_shared_ups_and_a_single_feed_are_risks() {
        let (_, c) = site();
        let r = check(&c, false);
        let kinds: Vec<(&str, &str)> = r.iter().map(|r| (r.node.as_str(), r.kind)).collect();
        assert_eq!(kinds, [("b", "single-point"), ("c", "single-feed")]);
        assert!(r[0].text.contains("goes through ups1"), "{}", r[0].text);
    }

    #[test]
    fn a_last_working_feed_on_battery_is_a_risk() {
        let (_, mut c) = site();
        let mut readings = Readings::default();
        for f in feeds(&c) {
            let off = f.to_string() == "pdu1:1";
            readings.feeds.insert(
                f.clone(),
                FeedResult {
                    feed: f,
                    state: Some(if off { PowerState::Off } else { PowerState::On }),
                    switched: false,
                    error: None,
                    unknown_plug: false,
                },
            );
        }
        let supply = |s: &str| {
            Ok(Health {
                supply: Some(Supply {
                    on_battery: s.contains("OB"),
                    low_battery: s.contains("LB"),
                    status: s.into(),
                }),
                psus: None,
            })
        };
        readings.health.insert("ups1".into(), supply("OL"));
        readings.health.insert("ups2".into(), supply("OB LB"));
        fill(&mut c, &readings);
        let r = check(&c, true);
        let on_battery: Vec<&Risk> = r.iter().filter(|r| r.kind == "on-battery").collect();
        // a: pdu1:1 is off, so its only working feed is pdu2:1 behind ups2, on battery.
        // c: its one feed is behind ups2 too. b: behind ups1, on line.
        assert_eq!(
            on_battery
                .iter()
                .map(|r| r.node.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert!(
            on_battery[0]
                .text
                .contains("ups2 (OB LB); the battery is low"),
            "{}",
            on_battery[0].text
        );
        let t = tree(&c, true);
        assert!(
            t.contains("psu2 ← pdu2:1 on ← ups2:1 on [ups2: OB LB] ← mains"),
            "{t}"
        );
    }
}
