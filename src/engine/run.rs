//! One fencing call from parsed input to report: validation into settings, the backend,
//! the engine. The command line and in-process callers (the concurrency tests today; fleet
//! commands and the service later) go through the same function, each with its own call
//! context.

use std::sync::Arc;

use crate::contract::action::Action;
use crate::contract::agents::Registry;
use crate::contract::error::FenceError;
use crate::contract::input::{self, RawInput};
use crate::contract::option_set::{self, Agent};
use crate::contract::settings::{self, Settings};
use crate::device::{self, Backend, BackendConfig};
use crate::engine::flow::Engine;
use crate::engine::outcome::{Outcome, Report};
use crate::runtime::call::{Call, CallId, Cancel};
use crate::runtime::clock::RealClock;
use crate::runtime::env::Env;
use crate::runtime::log::{self, Log};

/// Validate (the contract's checks, then the backend's configuration), open the backend
/// and run the action. Validation reports every problem it finds, of both kinds at once;
/// a failing action reports one.
pub fn run(
    registry: &Registry,
    agent: &Agent,
    action: Action,
    raw: &RawInput,
    call: &Call,
) -> Result<Report, Vec<FenceError>> {
    let (settings, config) = validate(registry, agent, action, raw, call)?;
    let device_action = match action {
        Action::Device(a) => a,
        // Nothing to contact: the options are valid, and metadata and the man page are
        // the entry point's to render.
        Action::ValidateAll | Action::Describe(_) => {
            return Ok(Report::new(action, Outcome::Validated))
        }
    };
    let engine = Engine::new(agent, device_action, &settings, call);
    match device::open(config) {
        Backend::Dummy(mut d) => engine.execute(&mut d),
        Backend::Snmp(mut d) => engine.execute(&mut d),
        Backend::Ipmi(mut d) => engine.execute(&mut d),
        Backend::Nut(mut d) => engine.execute(&mut d),
    }
    .map_err(|e| vec![e])
}

/// The contract's checks, then the backend's configuration: every problem of both.
fn validate(
    registry: &Registry,
    agent: &Agent,
    action: Action,
    raw: &RawInput,
    call: &Call,
) -> Result<(Settings, BackendConfig), Vec<FenceError>> {
    let (settings, mut errors) = settings::validate_partial(agent, action, raw, call.env);
    if errors.is_empty() {
        log_debug!(
            1,
            "{} {} (fencebox {}), {}, options: {}",
            agent.name,
            action.name(),
            env!("CARGO_PKG_VERSION"),
            call.id,
            Described(agent, &settings)
        );
        if settings.timeouts_disabled {
            log_debug!(1, "internal timeouts disabled (disable_timeout, or run by pacemaker-fenced); Pacemaker's action timeout applies");
        }
    }
    match device::configure(registry, agent, &settings, call.env) {
        Ok(config) if errors.is_empty() => Ok((settings, config)),
        Ok(_) => Err(errors),
        Err(backend) => {
            errors.extend(backend);
            if errors.is_empty() {
                errors.push(FenceError::Local(
                    "Failed: internal error: the backend rejected the options without saying why"
                        .into(),
                ));
            }
            Err(errors)
        }
    }
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

/// A whole call inside this process: the agent by name (from a registry the process
/// loaded once), its options as stdin text
/// (`key=value` lines), run on this thread with its own log (in memory) and identity.
/// Returns the report or the errors, and the call's log.
pub fn in_process(
    registry: &Registry,
    name: &str,
    stdin: &str,
    env: &Env,
    cancel: Cancel,
) -> (Result<Report, Vec<FenceError>>, Arc<Log>) {
    let log = Log::in_memory(name);
    let result = log::scope(&log, || {
        let found = registry
            .find(name)
            .map_err(|e| vec![FenceError::Local(format!("Failed: {e}"))])?
            .ok_or_else(|| vec![FenceError::Usage(format!("Failed: unknown agent '{name}'"))])?;
        let agent = option_set::resolve(found.def, found.symlink.as_ref())
            .map_err(|e| vec![FenceError::Local(format!("Failed: {e}"))])?;
        let raw = input::parse_stdin(stdin, &agent.options).map_err(|e| vec![e])?;
        register_public(&agent, &raw);
        log.configure(false, settings::verbose_level(&raw), None);
        let action = settings::action(&raw, &agent).map_err(|e| vec![e])?;
        let clock = RealClock::started_at(std::time::Instant::now());
        let call = Call {
            id: CallId::next(),
            env,
            clock: &clock,
            log: Arc::clone(&log),
            cancel,
        };
        run(registry, &agent, action, &raw, &call)
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
