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
use crate::runtime::clock::{RealClock, SharedClock};
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
        Backend::Shell(mut d) => engine.execute(&mut d),
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
    let (settings, mut errors) =
        settings::validate_partial(agent, action, raw, call.env, &*call.clock);
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
    in_process_on(registry, RealClock::shared_now(), name, stdin, env, cancel)
}

/// `in_process` on a given clock (a test's fake one: every wait of the call, the
/// backend's included, is then recorded instead of slept).
pub fn in_process_on(
    registry: &Registry,
    clock: SharedClock,
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
        let call = Call {
            id: CallId::next(),
            env,
            clock,
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

#[cfg(test)]
mod tests {
    //! Whole calls on a fake clock: the backends' waits are recorded, not slept, so a
    //! wait of many seconds is checked in milliseconds.
    use super::*;
    use crate::runtime::clock::{Clock, FakeClock};
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::path::PathBuf;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    fn scratch(name: &str) -> (Env, PathBuf) {
        let dir = std::env::temp_dir().join(format!("fencebox-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = Env {
            lock_dir: dir.join("locks"),
            agents_dir: dir.join("agents.d"),
            ..Env::default()
        };
        (env, dir)
    }

    /// A password script that never ends is stopped at login_timeout by the call's clock,
    /// during validation (the call's clock reaches it there too).
    #[test]
    fn a_hanging_password_script_is_stopped_by_the_calls_clock() {
        let (env, _dir) = scratch("script");
        let clock = FakeClock::shared();
        let stdin = "action=status\nip=127.0.0.1\nusername=u\npassword_script=sleep 600\nlogin_timeout=30\n";
        let t0 = Instant::now();
        let (r, _) = in_process_on(
            &Registry::load(&env.agents_dir),
            clock.clone(),
            "fence_ipmilan",
            stdin,
            &env,
            Cancel::default(),
        );
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        let Err(errors) = r else {
            panic!("a script that never prints cannot give a password")
        };
        assert!(
            errors.iter().any(|e| e.to_string().contains("within 30 s")),
            "{errors:?}"
        );
        assert!(
            clock.elapsed() >= Duration::from_secs(30),
            "{:?}",
            clock.elapsed()
        );
    }

    #[test]
    fn the_dummys_random_sleep_goes_by_the_calls_clock() {
        let (env, dir) = scratch("dummy");
        let clock = FakeClock::shared();
        let stdin = format!(
            "action=status\nverbose=1\nstatus_file={}\nrandom_sleep_range=5\n",
            dir.join("status").display()
        );
        let t0 = Instant::now();
        let (r, log) = in_process_on(
            &Registry::load(&env.agents_dir),
            clock.clone(),
            "fence_dummy",
            &stdin,
            &env,
            Cancel::default(),
        );
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "{:?}",
            t0.elapsed()
        );
        assert!(r.is_ok(), "{:?}", r.err());
        let sleeps = clock.sleeps();
        let [slept] = sleeps.as_slice() else {
            panic!("one sleep expected: {sleeps:?}");
        };
        assert!((1..=5).contains(&slept.as_secs()) && slept.subsec_nanos() == 0);
        let said = format!("Random sleep for {} seconds", slept.as_secs());
        assert!(
            log.lines().iter().any(|l| l.contains(&said)),
            "{:?}",
            log.lines()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A upsd whose instant commands are tracked and stay PENDING; outlet 1 reads on. It
    /// counts the GET TRACKING lines.
    fn stuck_upsd() -> (u16, Arc<Mutex<usize>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let polls = Arc::new(Mutex::new(0));
        let counted = polls.clone();
        std::thread::spawn(move || {
            let Ok((s, _)) = l.accept() else { return };
            let mut out = s.try_clone().unwrap();
            for line in BufReader::new(s).lines().map_while(|l| l.ok()) {
                let words: Vec<&str> = line.split_whitespace().collect();
                let reply = match words.as_slice() {
                    ["GET", "VAR", ups, "outlet.1.status"] => {
                        format!("VAR {ups} outlet.1.status \"on\"")
                    }
                    ["GET", "VAR", ..] => "ERR VAR-NOT-SUPPORTED".into(),
                    ["SET", "TRACKING", "ON"] => "OK".into(),
                    ["INSTCMD", ..] => "OK TRACKING 0c1d".into(),
                    ["GET", "TRACKING", "0c1d"] => {
                        *counted.lock().unwrap() += 1;
                        "PENDING".into()
                    }
                    ["LOGOUT"] => "OK Goodbye".into(),
                    _ => "ERR UNKNOWN-COMMAND".into(),
                };
                if out.write_all(format!("{reply}\n").as_bytes()).is_err() || line == "LOGOUT" {
                    return;
                }
            }
        });
        (port, polls)
    }

    #[test]
    fn a_nut_command_left_pending_is_given_up_at_power_timeout_by_the_calls_clock() {
        let (env, dir) = scratch("nut");
        let (port, polls) = stuck_upsd();
        let clock = FakeClock::shared();
        let stdin = format!(
            "action=off\nip=127.0.0.1\nipport={port}\nups_name=ups\nplug=1\npower_timeout=20\n"
        );
        let t0 = Instant::now();
        let registry = Registry::load(&env.agents_dir);
        let (r, _) = in_process_on(
            &registry,
            clock.clone(),
            "fence_nut",
            &stdin,
            &env,
            Cancel::default(),
        );
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        let Err(errors) = r else {
            panic!("the off must fail")
        };
        assert!(
            errors[0].to_string().contains(
                "upsd still reports outlet.1.load.off on ups as pending after 20 s (power_timeout), and outlet 1 still reads on"
            ),
            "{errors:?}"
        );
        // Polls back off from 50 ms to 250 ms, and the last pause ends at the limit.
        let ms = |n| Duration::from_millis(n);
        let mut expected = vec![ms(50), ms(100), ms(200)];
        expected.extend([ms(250); 78]);
        expected.push(ms(150));
        let pauses: Vec<Duration> = clock
            .sleeps()
            .into_iter()
            .filter(|d| !d.is_zero())
            .collect();
        assert_eq!(pauses, expected);
        assert_eq!(clock.elapsed(), Duration::from_secs(20));
        assert_eq!(*polls.lock().unwrap(), expected.len() + 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
