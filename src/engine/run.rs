//! One fencing call from parsed input to report: validation into settings, the backend,
//! the engine. The command line and in-process callers (the concurrency tests today; fleet
//! commands and the service later) go through the same function, each with its own call
//! context.

use std::sync::Arc;

use crate::contract::action::Action;
use crate::contract::agents;
use crate::contract::error::FenceError;
use crate::contract::input::{self, RawInput};
use crate::contract::option_set::{self, Agent};
use crate::contract::settings::{self, Settings};
use crate::device::{self, Backend};
use crate::engine::flow::Engine;
use crate::engine::outcome::{Outcome, Report};
use crate::runtime::call::{Call, CallId, Cancel};
use crate::runtime::clock::RealClock;
use crate::runtime::env::Env;
use crate::runtime::log::{self, Log};

/// Validate, open the backend and run the action. Validation reports every problem it
/// finds for validate-all (the first for other actions); a failing action reports one.
pub fn run(agent: &Agent, raw: &RawInput, call: &Call) -> Result<Report, Vec<FenceError>> {
    let (settings, mut errors) = settings::validate_partial(agent, raw, call.env)?;
    if !errors.is_empty() {
        // validate-all lists every problem: the backend's checks of the options that
        // passed the contract's, too.
        if settings.action == Action::ValidateAll {
            if let Err(e) = device::open(agent, &settings, call.env) {
                errors.push(e);
            }
        }
        return Err(errors);
    }
    log_debug!(
        1,
        "{} {} (fencebox {}), {}, options: {}",
        agent.name,
        settings.action.name(),
        env!("CARGO_PKG_VERSION"),
        call.id,
        Described(agent, &settings)
    );
    if settings.timeouts_disabled {
        log_debug!(1, "internal timeouts disabled (disable_timeout, or run by pacemaker-fenced); Pacemaker's action timeout applies");
    }
    let backend = device::open(agent, &settings, call.env).map_err(|e| vec![e])?;
    if settings.action == Action::ValidateAll {
        return Ok(Report::new(Action::ValidateAll, Outcome::Validated));
    }
    let engine = Engine::new(agent, &settings, call);
    match backend {
        Backend::Dummy(mut d) => engine.execute(&mut d),
        Backend::Snmp(mut d) => engine.execute(&mut d),
        Backend::Ipmi(mut d) => engine.execute(&mut d),
        Backend::Nut(mut d) => engine.execute(&mut d),
    }
    .map_err(|e| vec![e])
}

/// What the caller gave openly stays readable in the log even if a secret equals it
/// ("user 'admin'" with password admin).
pub fn register_public(agent: &Agent, raw: &RawInput) {
    for (key, value) in &raw.values {
        if !agent.option(key).is_some_and(|o| o.secret) {
            log::add_public(value);
        }
    }
}

/// A whole call inside this process: the agent by name, its options as stdin text
/// (`key=value` lines), run on this thread with its own log (in memory) and identity.
/// Returns the report or the errors, and the call's log.
pub fn in_process(
    name: &str,
    stdin: &str,
    env: &Env,
    cancel: Cancel,
) -> (Result<Report, Vec<FenceError>>, Arc<Log>) {
    let log = Log::in_memory(name);
    let result = log::scope(&log, || {
        let found = agents::find(name, &env.agents_dir)
            .map_err(|e| vec![FenceError::Local(format!("Failed: {e}"))])?
            .ok_or_else(|| vec![FenceError::Usage(format!("Failed: unknown agent '{name}'"))])?;
        let agent = option_set::resolve(found.def, found.symlink.as_ref())
            .map_err(|e| vec![FenceError::Local(format!("Failed: {e}"))])?;
        let raw = input::parse_stdin(stdin, &agent.options).map_err(|e| vec![e])?;
        register_public(&agent, &raw);
        log.configure(false, settings::verbose_level(&raw), None);
        let call = Call {
            id: CallId::next(),
            env,
            clock: RealClock::shared_now(),
            log: Arc::clone(&log),
            cancel,
        };
        run(&agent, &raw, &call)
    });
    if let Err(errors) = &result {
        log::scope(&log, || {
            for e in errors {
                log_error!("{e}");
            }
        });
    }
    (result, log)
}

/// The options of this call for the debug log; secret values never appear. Formatted
/// only when the line is written (most calls do not log at debug level).
struct Described<'a>(&'a Agent, &'a Settings);

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Described(agent, settings) = self;
        for (i, (k, v)) in settings.values.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            if agent.option(k).is_some_and(|o| o.secret) {
                write!(f, "{sep}{k}=[set]")?;
            } else {
                write!(f, "{sep}{k}={v}")?;
            }
        }
        Ok(())
    }
}
