//! What a power command prints: a table for people (one line per node, and a summary)
//! or JSON for scripts. Both come from the same typed outcome.

use serde::Serialize;

use crate::device::PowerState;
use crate::fleet::inventory::Inventory;
use crate::fleet::power::{Command, NodeResult, Outcome};

fn state_word(s: Option<PowerState>) -> &'static str {
    s.map_or("?", PowerState::lower)
}

/// One line per node: name, state, ok or FAILED, and the feeds (or why it failed).
pub fn table(outcome: &Outcome) -> String {
    let width = outcome
        .nodes
        .iter()
        .map(|n| n.node.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<5}  {:<6}  FEEDS\n",
        "NODE", "STATE", "RESULT"
    );
    for n in &outcome.nodes {
        out.push_str(&format!(
            "{:<width$}  {:<5}  {:<6}  {}\n",
            n.node,
            state_word(n.state),
            if n.ok { "ok" } else { "FAILED" },
            feeds_text(n)
        ));
    }
    out.push_str(&summary(outcome));
    out
}

fn feeds_text(n: &NodeResult) -> String {
    let feeds: Vec<String> = n
        .feeds
        .iter()
        .map(|f| {
            let mut t = format!("{} {}", f.feed, state_word(f.state));
            if f.switched {
                t.push_str(" (switched)");
            }
            t
        })
        .collect();
    match &n.reason {
        Some(r) => format!("{} -- {r}", feeds.join(", ")),
        None => feeds.join(", "),
    }
}

fn summary(outcome: &Outcome) -> String {
    let failed = outcome.nodes.iter().filter(|n| !n.ok).count();
    let total = outcome.nodes.len();
    let verb = match outcome.command {
        Command::Status => "read",
        Command::On => "on",
        Command::Off => "off",
        Command::Reboot => "rebooted",
    };
    let mut s = format!("{} of {total} node(s) {verb}", total - failed);
    if failed > 0 {
        s.push_str(&format!(", {failed} FAILED"));
    }
    s.push_str(&format!(" ({:.2} s)\n", outcome.elapsed.as_secs_f64()));
    s
}

#[derive(Serialize)]
struct JsonOutcome<'a> {
    command: &'a str,
    ok: bool,
    elapsed_s: f64,
    nodes: Vec<JsonNode<'a>>,
}

#[derive(Serialize)]
struct JsonNode<'a> {
    node: &'a str,
    state: Option<&'static str>,
    ok: bool,
    reason: Option<&'a str>,
    /// off or reboot: every feed was confirmed off (the node is fenced).
    fenced: bool,
    feeds: Vec<JsonFeed<'a>>,
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    device: &'a str,
    plug: &'a str,
    state: Option<&'static str>,
    switched: bool,
    error: Option<&'a str>,
}

pub fn json(outcome: &Outcome) -> String {
    let mut text = serde_json::to_string_pretty(&json_value(outcome))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The outcome as a JSON tree (the service's job results).
pub fn json_value(outcome: &Outcome) -> serde_json::Value {
    let value = JsonOutcome {
        command: outcome.command.name(),
        ok: outcome.all_ok(),
        elapsed_s: outcome.elapsed.as_secs_f64(),
        nodes: outcome
            .nodes
            .iter()
            .map(|n| JsonNode {
                node: &n.node,
                state: n.state.map(PowerState::lower),
                ok: n.ok,
                reason: n.reason.as_deref(),
                fenced: n.fenced,
                feeds: n
                    .feeds
                    .iter()
                    .map(|f| JsonFeed {
                        device: &f.feed.device,
                        plug: &f.feed.plug,
                        state: f.state.map(PowerState::lower),
                        switched: f.switched,
                        error: f.error.as_deref(),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_value(&value).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

#[derive(Serialize)]
struct JsonListed<'a> {
    node: &'a str,
    groups: &'a [String],
    feeds: Vec<String>,
    bmc: Option<String>,
}

/// The selected nodes as the inventory describes them (nothing is contacted).
pub fn list(inv: &Inventory, nodes: &[String], as_json: bool) -> String {
    let rows: Vec<JsonListed> = nodes
        .iter()
        .filter_map(|n| inv.node(n))
        .map(|n| JsonListed {
            node: &n.name,
            groups: &n.groups,
            feeds: n.feeds.iter().map(ToString::to_string).collect(),
            bmc: n.bmc.as_ref().map(ToString::to_string),
        })
        .collect();
    if as_json {
        let mut t = serde_json::to_string_pretty(&rows).unwrap_or_default();
        t.push('\n');
        return t;
    }
    let width = rows.iter().map(|r| r.node.len()).max().unwrap_or(4).max(4);
    let mut out = format!(
        "{:<width$}  {:<16}  {:<10}  FEEDS\n",
        "NODE", "GROUPS", "BMC"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<width$}  {:<16}  {:<10}  {}\n",
            r.node,
            if r.groups.is_empty() {
                "-".to_string()
            } else {
                r.groups.join(",")
            },
            r.bmc.as_deref().unwrap_or("-"),
            if r.feeds.is_empty() {
                "-".to_string()
            } else {
                r.feeds.join(", ")
            }
        ));
    }
    out
}
