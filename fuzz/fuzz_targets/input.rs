//! The option readers, on every input a caller can give: argv (any bytes, not only UTF-8)
//! and stdin `key=value` text, against the option tables of agents with different option
//! families. None of it may panic, loop or allocate without bound, and what comes out
//! must be what the table allows.
//!
//! Input layout: byte 0 picks the agent (low bits) and the path (high bit: argv); for
//! argv the rest is split at NUL bytes into arguments, for stdin the rest is stdin.
//! Nothing is validated further: settings::validate runs the *_script options.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, OnceLock};

use fencebox::contract::agents;
use fencebox::contract::input::{self, RawInput};
use fencebox::contract::option_set::{self, Agent};
use fencebox::contract::settings;
use fencebox::runtime::env::Env;
use fencebox::runtime::log::{self, Log};
use libfuzzer_sys::fuzz_target;

const AGENTS: [&str; 4] = [
    "fence_dummy",
    "fence_apc_snmp",
    "fence_ipmilan",
    "fence_nut",
];

/// The log every run writes to: quiet, in memory, so that the readers' warnings
/// (verbose_level) neither flood stderr nor pile up.
fn quiet_log() -> &'static Arc<Log> {
    static LOG: OnceLock<Arc<Log>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::in_memory("fuzz");
        log.configure(true, 0, None);
        log
    })
}

fn agents() -> &'static [Agent] {
    static CELL: OnceLock<Vec<Agent>> = OnceLock::new();
    CELL.get_or_init(|| {
        let registry = agents::Registry::load(&Env::default().agents_dir);
        AGENTS
            .iter()
            .map(|name| {
                let found = registry
                    .find(name)
                    .expect("agents load")
                    .expect("agent exists");
                option_set::resolve(found.def, found.symlink.as_ref()).expect("agent resolves")
            })
            .collect()
    })
}

/// What any successful read must satisfy, whatever the input.
fn check(raw: &RawInput, agent: &Agent) {
    for (key, value) in &raw.values {
        let spec = agent
            .options
            .iter()
            .find(|o| o.key == *key)
            .expect("only keys of the agent's table");
        if !spec.takes_value() {
            let allowed: &[&str] = if raw.from_argv { &[""] } else { &["0", "1"] };
            assert!(allowed.contains(&value.as_str()), "flag {key}={value:?}");
        }
    }
    for w in &raw.warnings {
        assert!(!w.is_empty());
    }
    let _ = settings::action(raw, agent);
    let _ = settings::verbose_level(raw);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let all = agents();
    let agent = &all[usize::from(selector & 0x7f) % all.len()];
    log::scope(quiet_log(), || {
        let result = if selector & 0x80 != 0 {
            let args: Vec<OsString> = rest
                .split(|&b| b == 0)
                .map(|a| OsString::from_vec(a.to_vec()))
                .collect();
            input::read(&args, &mut std::io::empty(), &agent.options)
        } else {
            input::read(&[], &mut &rest[..], &agent.options)
        };
        if let Ok(raw) = result {
            check(&raw, agent);
        }
    });
});
