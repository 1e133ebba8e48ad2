//! `fencebox locks`: who holds or waits for which device, on this host (the flocks of the
//! lock directory, from the kernel's table) and across hosts (the etcd locks), for an
//! administrator wondering why a fence waits.

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command};
use serde_json::json;

use crate::engine::lock::{cluster_entries, ClusterEntry};
use crate::fleet::command::{matches, Answer};
use crate::runtime::env::Env;
use crate::runtime::lock::{local_entries, LocalEntry, LockMode};
use crate::runtime::site::LockBackend;

fn cli() -> Command {
    Command::new("fencebox locks")
        .about("List the device locks held or waited for: this host's (the lock directory) and, with the etcd backend, every host's")
        .disable_version_flag(true)
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .help("answer in JSON"),
        )
}

/// One line of the listing.
struct Row {
    device: String,
    scope: &'static str,
    state: &'static str,
    call: String,
}

pub fn locks(args: &[OsString], env: &Env) -> Answer {
    let m = match matches(cli(), args) {
        Ok(m) => m,
        Err(answer) => return answer,
    };
    let backend = env.locks.as_ref().map_err(|e| e.clone())?;
    let local = local_entries(&env.lock_dir)?;
    let (cluster, trouble) = match backend {
        LockBackend::Etcd(settings) => match cluster_entries(settings) {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(format!("etcd: {e}"))),
        },
        LockBackend::Local => (Vec::new(), None),
    };
    let rows: Vec<Row> = local
        .iter()
        .flat_map(local_rows)
        .chain(cluster.iter().map(cluster_row))
        .collect();
    let text = if m.get_flag("json") {
        let listed: Vec<_> = rows
            .iter()
            .map(|r| json!({ "device": r.device, "scope": r.scope, "state": r.state, "call": r.call }))
            .collect();
        let mut doc = json!({ "locks": listed });
        if let Some(t) = &trouble {
            doc["error"] = json!(t);
        }
        format!("{doc:#}\n")
    } else {
        table(&rows, trouble.as_deref())
    };
    // An etcd that cannot be asked is a failure of the question: exit 1, after the rest.
    Ok((text, u8::from(trouble.is_some())))
}

fn local_rows(e: &LocalEntry) -> Vec<Row> {
    let mut rows: Vec<Row> = e
        .holders
        .iter()
        .map(|(pid, mode)| Row {
            device: e.device.clone(),
            scope: "local",
            state: match mode {
                LockMode::Exclusive => "holds",
                LockMode::Shared => "reads",
            },
            call: match (&e.described, mode) {
                (Some(d), LockMode::Exclusive) => d.clone(),
                _ => process(*pid),
            },
        })
        .collect();
    rows.extend(e.waiters.iter().map(|pid| Row {
        device: e.device.clone(),
        scope: "local",
        state: "waits",
        call: process(*pid),
    }));
    rows
}

fn cluster_row(e: &ClusterEntry) -> Row {
    Row {
        device: e.device.clone(),
        scope: "etcd",
        state: if e.holds { "holds" } else { "waits" },
        call: e.described.clone(),
    }
}

/// A process by its pid and program name (never its arguments: they may hold a password).
fn process(pid: u32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(name) => format!("pid {pid} ({})", name.trim()),
        Err(_) => format!("pid {pid}"),
    }
}

fn table(rows: &[Row], trouble: Option<&str>) -> String {
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str("no device lock is held or waited for\n");
    } else {
        let width = rows
            .iter()
            .map(|r| r.device.len())
            .max()
            .unwrap_or(6)
            .max(6);
        text.push_str(&format!("{:<width$}  SCOPE  STATE  CALL\n", "DEVICE"));
        for r in rows {
            text.push_str(&format!(
                "{:<width$}  {:<5}  {:<5}  {}\n",
                r.device, r.scope, r.state, r.call
            ));
        }
    }
    if let Some(t) = trouble {
        text.push_str(&format!("{t}\n"));
    }
    text
}
