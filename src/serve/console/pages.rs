//! The console's pages as HTML (maud escapes every value it is given).

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use crate::device::PowerState;
use crate::fleet::chain::{NodeChain, Risk, Top};
use crate::fleet::inventory::{Node, Parent};
use crate::fleet::power::{Command, Outcome};
use crate::fleet::stats::DeviceStats;
use crate::serve::console::live::word;
use crate::serve::console::plot;
use crate::serve::console::session::Session;
use crate::serve::jobs::{Job, State, World};
use crate::serve::metrics::Sample;
use crate::serve::targets;

fn layout(s: Option<&Session>, title: &str, body: Markup) -> Markup {
    layout_with(s, title, body, false)
}

/// Every page: the header with the sections and, signed in, the holder and a logout;
/// `refresh`: the page reloads itself each second (a job under way), without script.
fn layout_with(s: Option<&Session>, title: &str, body: Markup, refresh: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="1"; }
                title { (title) " · fencebox" }
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/app.js" defer {}
            }
            body {
                header {
                    span.brand { "fencebox" }
                    @if let Some(s) = s {
                        nav {
                            a href="/ui/" { "Nodes" }
                            a href="/ui/devices" { "Devices" }
                            a href="/ui/jobs" { "Jobs" }
                        }
                        span.who {
                            "token " b { (s.holder.name) } " (" (scope(s)) ") "
                            form method="post" action="/ui/logout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" id="logout" { "Log out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn scope(s: &Session) -> &'static str {
    match s.holder.scope {
        crate::serve::tokens::Scope::Read => "read",
        crate::serve::tokens::Scope::Control => "control",
    }
}

fn state_class(state: Option<PowerState>) -> &'static str {
    match state {
        Some(PowerState::On) => "on",
        Some(PowerState::Off) => "off",
        None => "unknown",
    }
}

pub fn refused(s: Option<&Session>, code: StatusCode, why: &str) -> Markup {
    layout(
        s,
        "Refused",
        html! {
            h1 { (code.as_u16()) " " (code.canonical_reason().unwrap_or("")) }
            p.error id="refused" { (why) }
            p { a href="/ui/" { "Back to the nodes" } }
        },
    )
}

pub fn login(error: Option<&str>) -> Markup {
    layout(
        None,
        "Sign in",
        html! {
            div.card.login {
                h1 { "Sign in" }
                p.muted { "Paste an API token (fencebox token add). It is exchanged for a session; the page never shows it again." }
                @if let Some(e) = error { p.error id="login-error" { (e) } }
                form id="login" method="post" action="/ui/login" {
                    label for="token" { "Token" }
                    input id="token" type="password" name="token" autocomplete="off" required;
                    button.btn type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// "read 4 s ago", or that nothing was read yet.
pub fn age_text(age: Option<Duration>) -> String {
    match age {
        Some(a) => format!("states read {} s ago", a.as_secs()),
        None => "states not read yet; they come in a moment".into(),
    }
}

#[allow(clippy::too_many_arguments)]
pub fn node_list(
    s: &Session,
    world: &World,
    nodes: &[&Node],
    states: &HashMap<String, Option<PowerState>>,
    age: Option<Duration>,
    filter_nodes: &Option<String>,
    filter_group: &Option<String>,
    query: &str,
) -> Markup {
    let mut groups: Vec<&str> = world
        .inventory
        .nodes
        .iter()
        .flat_map(|n| n.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let state_of = |n: &Node| states.get(&n.name).copied().flatten();
    let count = |want: Option<PowerState>| nodes.iter().filter(|n| state_of(n) == want).count();
    layout(
        Some(s),
        "Nodes",
        html! {
            h1 { "Nodes" }
            form.filter id="filter" method="get" action="/ui/" {
                label { "Nodes (host list)"
                    input type="text" name="nodes" placeholder="node[01-16],@rack2"
                        value=(filter_nodes.clone().unwrap_or_default());
                }
                label { "Group"
                    select name="group" {
                        option value="" { "any" }
                        @for g in &groups {
                            option value=(g) selected[filter_group.as_deref() == Some(*g)] { (g) }
                        }
                    }
                }
                button.btn type="submit" { "Filter" }
            }
            p.summary {
                span { b { (nodes.len()) } " nodes" }
                span.on { b id="count-on" { (count(Some(PowerState::On))) } " on" }
                span.off { b id="count-off" { (count(Some(PowerState::Off))) } " off" }
                span.unknown { b id="count-unknown" { (count(None)) } " unknown" }
                span.muted id="age" { (age_text(age)) }
            }
            div.scroll {
                table id="nodes" data-states=(format!("/ui/states{query}")) {
                    thead { tr { th { "Node" } th { "State" } th { "Groups" } th { "Feeds" } th { "BMC" } } }
                    tbody {
                        @for n in nodes {
                            @let st = state_of(n);
                            tr data-node=(n.name) {
                                td { a.node href=(format!("/ui/nodes/{}", n.name)) { (n.name) } }
                                td class=(format!("state {}", state_class(st))) { (word(st)) }
                                td { (n.groups.join(", ")) }
                                td { (n.feeds.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", ")) }
                                td { (n.bmc.as_ref().map(|f| f.to_string()).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn link_state(state: Option<PowerState>, error: Option<&String>) -> Markup {
    html! {
        @match error {
            Some(e) => { span.st.unknown title=(e) { "UNKNOWN" } " " span.muted { (e) } }
            None => { span class=(format!("st {}", state_class(state))) { (word(state)) } }
        }
    }
}

/// One power supply's chain, nearest link first, each link nested in the one before.
fn chain_links(links: &[crate::fleet::chain::Link], top: Top) -> Markup {
    html! {
        @match links.split_first() {
            Some((l, rest)) => {
                ul { li.link {
                    a href=(format!("/ui/devices/{}", l.feed.device)) { (l.feed.device) }
                    @if !l.feed.plug.is_empty() { " outlet " (l.feed.plug) }
                    " " (link_state(l.state, l.error.as_ref()))
                    @if let Some(sup) = &l.supply { " " span.muted { "(" (sup.status) ")" } }
                    (chain_links(rest, top))
                } }
            }
            None => {
                ul { li.muted { @match top { Top::Mains => { "mains" } Top::Unknown => { "(the inventory does not say what powers it)" } } } }
            }
        }
    }
}

pub fn node(
    s: &Session,
    node: &Node,
    chains: &[NodeChain],
    risks: &[Risk],
    may_switch: bool,
) -> Markup {
    let c = chains.first();
    let state = |l: &crate::fleet::chain::Link| if l.error.is_some() { None } else { l.state };
    // The node's state as its chains read: off when every PSU's outlet is off.
    let psu_states: Vec<Option<PowerState>> = c
        .map(|c| {
            c.psus
                .iter()
                .map(|p| p.links.first().and_then(state))
                .collect()
        })
        .unwrap_or_default();
    let overall = if psu_states.is_empty() {
        None
    } else if psu_states.iter().all(|s| *s == Some(PowerState::Off)) {
        Some(PowerState::Off)
    } else if psu_states.contains(&Some(PowerState::On)) {
        Some(PowerState::On)
    } else {
        None
    };
    layout(
        Some(s),
        &node.name,
        html! {
            h1 { "Node " (node.name) " " span id="node-state" class=(format!("state {}", state_class(overall))) { (word(overall)) } }
            @if !node.groups.is_empty() { p.muted { "Groups: " (node.groups.join(", ")) } }
            h2 { "Power chain" }
            div.card id="chain" {
                ul.tree { li {
                    b { (node.name) }
                    @if let Some(c) = c {
                        ul {
                            @for (i, p) in c.psus.iter().enumerate() {
                                li.psu { "PSU " (i + 1) (chain_links(&p.links, p.top)) }
                            }
                        }
                    }
                } }
                @if let Some(bmc) = &node.bmc {
                    p { "BMC: " a href=(format!("/ui/devices/{}", bmc.device)) { (bmc.device) }
                        @if let Some(Ok(psus)) = c.and_then(|c| c.bmc_psus.as_ref()) {
                            " · power supplies it reports: "
                            @for p in psus {
                                span class=(if p.faults.is_empty() { "ok" } else { "fail" }) {
                                    (p.name) @if !p.faults.is_empty() { " (" (p.faults.join(", ")) ")" }
                                } " "
                            }
                        }
                    }
                }
            }
            h2 { "Warnings" }
            @if risks.is_empty() {
                p.muted id="warnings" { "The chain check found nothing to warn of." }
            } @else {
                ul.warnings id="warnings" { @for r in risks { li { (r.text) } } }
            }
            @if may_switch {
                h2 { "Switch" }
                div.switches {
                    @for (action, label, class) in [("on", "Power on", "btn"), ("off", "Power off", "btn danger"), ("reboot", "Reboot", "btn danger")] {
                        form method="get" action=(format!("/ui/nodes/{}/confirm", node.name)) {
                            input type="hidden" name="action" value=(action);
                            button class=(format!("switch {class}")) type="submit" data-action=(action) { (label) }
                        }
                    }
                }
                p.muted { "Each asks for a confirmation that names every outlet it switches." }
            }
        },
    )
}

fn command_words(cmd: Command) -> (&'static str, &'static str) {
    match cmd {
        Command::On => ("Power on", "switched on"),
        Command::Off => ("Power off", "switched off"),
        Command::Reboot => (
            "Reboot",
            "switched off, and on again once every one is confirmed off",
        ),
        Command::Status => ("Read", "read"),
    }
}

/// The confirmation: the target and every outlet the command switches, with the nodes
/// each one feeds (an outlet may feed more than the node asked for).
pub fn confirm(
    s: &Session,
    world: &World,
    cmd: Command,
    target: &Node,
    action: &str,
    plug: Option<&str>,
    back: &str,
) -> Markup {
    let (verb, what) = command_words(cmd);
    let feeds = target.power_feeds();
    layout(
        Some(s),
        "Confirm",
        html! {
            div.card id="confirm" {
                h1 { (verb) " " (target.name) "?" }
                p { "These outlets will be " (what) ":" }
                ul id="outlets" {
                    @for f in &feeds {
                        @let fed: Vec<String> = targets::nodes_fed_by(&world.inventory, f).iter().map(|n| n.name.clone()).collect();
                        li.outlet data-feed=(f.to_string()) {
                            b { (f.device) } @if !f.plug.is_empty() { " outlet " (f.plug) }
                            @if !fed.is_empty() { span.muted { " (feeds " (fed.join(", ")) ")" } }
                        }
                    }
                }
                form id="do" method="post" action=(action) {
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="action" value=(cmd.name());
                    @if let Some(p) = plug { input type="hidden" name="plug" value=(p); }
                    button.btn.danger id="go" type="submit" { (verb) " " (target.name) }
                    " "
                    a.btn.secondary href=(back) id="cancel" { "Cancel" }
                }
            }
        },
    )
}

pub fn device_list(s: &Session, world: &World) -> Markup {
    let inv = &world.inventory;
    layout(
        Some(s),
        "Devices",
        html! {
            h1 { "Devices" }
            div.scroll {
                table id="devices" {
                    thead { tr { th { "Device" } th { "Agent" } th { "Powered by" } th { "Outlets in use" } } }
                    tbody {
                        @for d in inv.devices.values() {
                            tr {
                                td { a href=(format!("/ui/devices/{}", d.name)) { (d.name) } }
                                td { (d.agent.name.to_string()) }
                                td { @match &d.parent {
                                    Parent::Unknown => { span.muted { "not said" } }
                                    Parent::Mains => { "mains" }
                                    Parent::Feed(f) => { a href=(format!("/ui/devices/{}", f.device)) { (f.to_string()) } }
                                } }
                                td.num { (targets::plugs_of(inv, &d.name).len()) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// A device: its outlets (state, readings and the last hour of power where it meters
/// them), switches for a control token, and a plot of its own input.
pub fn device(
    s: &Session,
    world: &World,
    name: &str,
    meter: Option<&DeviceStats>,
    status: Option<&Outcome>,
    history: &dyn Fn(&str) -> Vec<Sample>,
    metering: bool,
) -> Markup {
    let inv = &world.inventory;
    let fed = |plug: &str| -> String {
        targets::nodes_fed_by(
            inv,
            &crate::fleet::inventory::Feed {
                device: name.to_string(),
                plug: plug.to_string(),
            },
        )
        .iter()
        .map(|n| n.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
    };
    let may = |plug: &str| {
        targets::outlet(inv, &world.hosts, name, plug)
            .ok()
            .is_some_and(|t| targets::may_switch(&s.holder, std::slice::from_ref(&t), inv).is_ok())
    };
    let switches = |plug: &str| {
        html! {
            @if may(plug) {
                @for (action, label) in [("on", "On"), ("off", "Off"), ("reboot", "Reboot")] {
                    form method="get" action=(format!("/ui/devices/{name}/confirm")) {
                        input type="hidden" name="plug" value=(plug);
                        input type="hidden" name="action" value=(action);
                        button.btn.secondary.switch type="submit" data-action=(action) { (label) }
                    }
                }
            }
        }
    };
    let m = meter
        .and_then(|d| d.meter.as_ref().ok())
        .and_then(Option::as_ref);
    let error = meter.and_then(|d| d.meter.as_ref().err());
    layout(
        Some(s),
        name,
        html! {
            h1 { "Device " (name) }
            @if let Some(d) = inv.devices.get(name) { p.muted { (d.agent.name.to_string()) } }
            div id="readings" data-refresh=[m.map(|_| 60)] {
                @if let Some(e) = error { p.error { "The device's meters could not be read: " (e) } }
                @if let Some(m) = m {
                    @let input = history("input");
                    @if input.iter().any(|x| x.power.is_some()) {
                        (plot::hour(&input, |x| x.power, &format!("{name} input power"), "W"))
                    } @else if input.iter().any(|x| x.current.is_some()) {
                        (plot::hour(&input, |x| x.current, &format!("{name} input current"), "A"))
                    }
                    div.scroll {
                        table id="outlets" {
                            thead { tr { th { "Outlet" } th { "Name" } th { "Feeds" } th { "State" } th { "Current (A)" } th { "Power (W)" } th { "Last hour (W)" } th {} } }
                            tbody {
                                @for o in &m.outlets {
                                    @let series = history(&o.id);
                                    tr data-outlet=(o.id) {
                                        td { (o.id) }
                                        td { (o.name) }
                                        td { (fed(&o.id)) }
                                        td class=(format!("state {}", state_class(o.state))) { (word(o.state)) }
                                        td.num { (o.reading.current.map(plot::fmt).unwrap_or_default()) }
                                        td.num { (o.reading.power.map(plot::fmt).unwrap_or_default()) }
                                        td { (plot::spark(&series, |x| x.power)) }
                                        td.switches { (switches(&o.id)) }
                                    }
                                }
                            }
                        }
                    }
                } @else if let Some(out) = status {
                    @if !metering { p.muted { "This service reads no meters (stats_max_age = 0)." } }
                    div.scroll {
                        table id="outlets" {
                            thead { tr { th { "Outlet" } th { "Feeds" } th { "State" } th {} } }
                            tbody {
                                @for n in &out.nodes {
                                    @for f in &n.feeds {
                                        tr data-outlet=(f.feed.plug) {
                                            td { (f.feed.plug) }
                                            td { (fed(&f.feed.plug)) }
                                            td class=(format!("state {}", state_class(f.state))) { (link_state(f.state, f.error.as_ref())) }
                                            td.switches { (switches(&f.feed.plug)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } @else {
                    p.muted { "No node of the inventory uses an outlet of this device." }
                }
            }
        },
    )
}

fn job_state(state: &State) -> &'static str {
    match state {
        State::Queued => "queued",
        State::Running => "running",
        State::Done => "done",
        State::Failed => "failed",
        State::Interrupted => "interrupted",
    }
}

pub fn job_list(s: &Session, jobs: &[Job]) -> Markup {
    layout(
        Some(s),
        "Jobs",
        html! {
            h1 { "Recent jobs" }
            div.scroll {
                table id="jobs" {
                    thead { tr { th { "Job" } th { "Action" } th { "Targets" } th { "By" } th { "Queued" } th { "State" } th { "Result" } } }
                    tbody {
                        @for j in jobs {
                            tr data-job=(j.id) {
                                td { a href=(format!("/ui/jobs/{}", j.id)) { (j.id) } }
                                td { (j.action) }
                                td { (j.targets.join(", ")) }
                                td { (j.who) }
                                td { (j.queued_at) }
                                td { (job_state(&j.state)) }
                                td { @if j.confirmed() { span.ok { "confirmed" } } @else if j.finished() { span.fail { "not confirmed" } } }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn job(s: &Session, job: &Job) -> Markup {
    let done = job.finished();
    layout_with(
        Some(s),
        &format!("Job {}", job.id),
        html! {
            div.card id="job" data-state=(job_state(&job.state)) data-confirmed=(job.confirmed()) {
                h1 { "Job " (job.id) ": " (job.action) " " (job.targets.join(", ")) }
                p.muted { "By " (job.who) ", queued " (job.queued_at)
                    @if let Some(t) = &job.ended_at { ", ended " (t) } }
                @if !done {
                    p id="result" { "The job is " (job_state(&job.state)) "; this page follows it." }
                } @else if job.confirmed() {
                    p.ok id="result" { "Done: the devices confirmed it." }
                } @else {
                    p.fail id="result" { "Not confirmed: "
                        (job.note.clone().unwrap_or_else(|| "a target did not reach what was asked; see below".into())) }
                }
                @if let Some(o) = &job.outcome {
                    table id="targets" {
                        thead { tr { th { "Target" } th { "State now" } th { "Feeds as the devices confirmed them" } th { "Why not" } } }
                        tbody {
                            @for n in &o.nodes {
                                tr data-target=(n.node) {
                                    td { (n.node) }
                                    td class=(format!("state {}", state_class(n.state))) { (word(n.state)) }
                                    td { @for f in &n.feeds {
                                        span.feed { (f.feed.to_string()) " " (link_state(f.state, f.error.as_ref())) } " "
                                    } }
                                    td { (n.reason.clone().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        },
        !done,
    )
}
