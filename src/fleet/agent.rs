//! fence_chain: the fence-agents contract over a node's power chain. The plug is a node of
//! the inventory; its feeds are switched by `power::run`, which takes every device lock
//! in key order and applies the dual-feed rule, so that one stonith resource fences a
//! dual-PSU node through both PDUs with both off before either is on.

use std::time::Duration;

use crate::contract::action::{Action, DeviceAction};
use crate::contract::agents::Registry;
use crate::contract::error::FenceError;
use crate::contract::input::RawInput;
use crate::contract::option_set::Agent;
use crate::contract::settings::{self, Settings};
use crate::device::{Outlet, PowerState};
use crate::engine::outcome::{Outcome, PlugResult, Report};
use crate::fleet::inventory::{self, Inventory};
use crate::fleet::power::{self, Command, NodeResult, Options};
use crate::runtime::call::Call;

/// Validate, read the inventory and run the action on the named nodes.
pub fn run(
    registry: &Registry,
    agent: &Agent,
    action: Action,
    raw: &RawInput,
    call: &Call,
) -> Result<Report, Vec<FenceError>> {
    let (settings, errors) = settings::validate_partial(agent, action, raw, call.env, &*call.clock);
    if !errors.is_empty() {
        return Err(errors);
    }
    let path = settings.get("inventory").unwrap_or_default();
    let inv = inventory::load(std::path::Path::new(path), registry)
        .map_err(|e| vec![FenceError::Usage(format!("Failed: {e}"))])?;
    let device_action = match action {
        Action::Device(a) => a,
        Action::ValidateAll | Action::Describe(_) => {
            // The inventory is what there is to validate; a node it lacks is said, but
            // the device as configured is valid (the cluster may name any node here).
            if let Err(e) = named_nodes(&inv, &settings) {
                for e in e {
                    log_warning!("{e}");
                }
            }
            return Ok(Report::new(action, Outcome::Validated));
        }
    };
    let nodes = named_nodes(&inv, &settings)?;
    let needs_nodes = !matches!(
        device_action,
        DeviceAction::List { .. } | DeviceAction::Monitor
    );
    if needs_nodes && nodes.is_empty() {
        // Nothing named is nothing done: never a success for no node at all.
        return Err(vec![FenceError::Usage(
            "Failed: no node named; give the node as plug (port=NODE), as Pacemaker does".into(),
        )]);
    }
    if device_action.is_fencing() && !settings.delay.is_zero() {
        let wait = settings.delay.saturating_sub(call.clock.elapsed());
        log_debug!(
            1,
            "delay: waiting {:.3} s before contacting the devices",
            wait.as_secs_f64()
        );
        call.clock.sleep(wait);
    }
    let opts = Options {
        verbose: settings.verbose_level,
        progress: false,
        // Pacemaker's own timeout applies when ours are off.
        lock_wait: settings
            .action_budget()
            .map(|b| b.saturating_sub(call.clock.elapsed()))
            .or(Some(Duration::from_secs(86_400))),
        ..Options::default()
    };
    let every = || inv.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    let run =
        |nodes: &[String], command| power::run(&inv, registry, call.env, nodes, command, &opts);
    let outcome = match device_action {
        DeviceAction::List { with_state } => {
            let outlets = if with_state {
                let done = run(&every(), Command::Status);
                done.nodes
                    .iter()
                    .map(|n| outlet(&n.node, n.state))
                    .collect()
            } else {
                every().iter().map(|n| outlet(n, None)).collect()
            };
            return Ok(Report::new(
                action,
                Outcome::Listed {
                    outlets,
                    with_state,
                },
            ));
        }
        DeviceAction::Monitor => {
            let done = run(&every(), Command::Status);
            failures(&done.nodes)?;
            return Ok(Report::new(action, Outcome::Monitored));
        }
        DeviceAction::Status => run(&nodes, Command::Status),
        DeviceAction::On => run(&nodes, Command::On),
        DeviceAction::Off => run(&nodes, Command::Off),
        DeviceAction::Reboot => run(&nodes, Command::Reboot),
        DeviceAction::Diag => {
            return Err(vec![FenceError::UnrecognisedAction("diag".into())]);
        }
    };
    let plugs = outcome
        .nodes
        .iter()
        .filter_map(|n| {
            n.state.map(|state| PlugResult {
                plug: n.node.clone(),
                state,
            })
        })
        .collect();
    let result = match device_action {
        DeviceAction::Status => {
            failures(&outcome.nodes)?;
            let on = outcome
                .nodes
                .iter()
                .any(|n| n.state == Some(PowerState::On));
            Outcome::Status(if on { PowerState::On } else { PowerState::Off })
        }
        DeviceAction::On | DeviceAction::Off => {
            failures(&outcome.nodes)?;
            let target = if device_action == DeviceAction::On {
                PowerState::On
            } else {
                PowerState::Off
            };
            let switched = outcome
                .nodes
                .iter()
                .flat_map(|n| &n.feeds)
                .any(|f| f.switched);
            if switched {
                Outcome::Switched(target)
            } else {
                Outcome::AlreadyIn(target)
            }
        }
        _ => {
            // A reboot has fenced when every feed of every node was confirmed off; what
            // came after only decides whether the nodes are back on.
            if let Some(n) = outcome.nodes.iter().find(|n| !n.fenced) {
                return Err(vec![failure(n)]);
            }
            for n in outcome.nodes.iter().filter(|n| !n.ok) {
                log_error!(
                    "{}: fenced, but not back on: {}",
                    n.node,
                    n.reason.as_deref().unwrap_or("?")
                );
            }
            Outcome::Rebooted {
                on_confirmed: outcome.all_ok(),
            }
        }
    };
    Ok(Report {
        action,
        outcome: result,
        plugs,
    })
}

/// The nodes the plug names (several with plug_separator), each a node of the inventory.
fn named_nodes(inv: &Inventory, settings: &Settings) -> Result<Vec<String>, Vec<FenceError>> {
    let mut nodes = Vec::new();
    for given in settings.plugs.iter().filter(|p| !p.is_empty()) {
        if inv.node(given).is_none() {
            return Err(vec![FenceError::Usage(format!(
                "Failed: {given} is not a node of the inventory {}; 'fencebox power list all --inventory {}' shows them",
                inv.path.display(),
                inv.path.display()
            ))]);
        }
        nodes.push(given.clone());
    }
    Ok(nodes)
}

fn outlet(node: &str, state: Option<PowerState>) -> Outlet {
    Outlet {
        id: node.to_string(),
        alias: node.to_string(),
        state,
    }
}

/// The first node that did not reach what was asked, as the call's error.
fn failures(nodes: &[NodeResult]) -> Result<(), Vec<FenceError>> {
    match nodes.iter().find(|n| !n.ok) {
        Some(n) => Err(vec![failure(n)]),
        None => Ok(()),
    }
}

fn failure(n: &NodeResult) -> FenceError {
    FenceError::Device(format!(
        "{}: {}",
        n.node,
        n.reason.as_deref().unwrap_or("not done")
    ))
}
