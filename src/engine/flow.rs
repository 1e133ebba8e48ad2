//! The action engine: what on, off, reboot, status, list and monitor mean, for every
//! device alike (fence-agents protocol §3). Backends only read and switch plugs; the
//! engine decides the order, confirms every change by reading it back, and returns a
//! typed outcome (`engine::outcome`) that a renderer turns into what the caller reads.

use crate::contract::action::{Action, DeviceAction};
use crate::contract::error::{FenceError, Result};
use crate::contract::option_set::Agent;
use crate::contract::settings::Settings;
use crate::device::{CycleKind, Device, PowerState, Session};
use crate::engine::lock;
use crate::engine::outcome::{Outcome, PlugResult, Report};
use crate::runtime::call::Call;
use crate::runtime::lock::LockMode;

/// The failure of a call whose result could not be written to stdout (a full disk, a
/// reader that went away). For on, off and reboot the device has done the action by
/// then, and the log line says so: the next caller must not assume nothing happened.
pub fn unwritten(action: Action, e: &std::io::Error) -> FenceError {
    let name = action.name();
    let switched = matches!(action, Action::Device(a) if !a.is_read_only());
    FenceError::Local(match switched {
        true => format!(
            "Failed: {name} was done and the device confirmed it, but the result could not be written to standard output ({e}); check what the output goes to"
        ),
        false => format!(
            "Failed: the {name} result could not be written to standard output ({e}); check what the output goes to (a full disk, a reader that went away)"
        ),
    })
}

pub struct Engine<'a> {
    pub agent: &'a Agent,
    /// The action: only one done on a device can reach the engine.
    pub action: DeviceAction,
    pub settings: &'a Settings,
    pub call: &'a Call<'a>,
    /// The last state read of each plug, for the report.
    plugs: Vec<PlugResult>,
}

impl<'a> Engine<'a> {
    pub fn new(
        agent: &'a Agent,
        action: DeviceAction,
        settings: &'a Settings,
        call: &'a Call<'a>,
    ) -> Self {
        Engine {
            agent,
            action,
            settings,
            call,
            plugs: Vec::new(),
        }
    }

    /// Run a device action end to end: delay, device lock, contact, the action itself.
    pub fn execute<D: Device>(mut self, device: &mut D) -> Result<Report> {
        let action = self.action;
        if action == DeviceAction::Monitor && !self.agent.has_plugs() && self.agent.has("no_status")
        {
            // Nothing to read: a device without status cannot be monitored any further.
            return Ok(Report::new(Action::Device(action), Outcome::Monitored));
        }
        let clock = &*self.call.clock;
        if action.is_fencing() && !self.settings.delay.is_zero() {
            let wait = self.settings.delay.saturating_sub(clock.elapsed());
            log_debug!(
                1,
                "delay: waiting {:.3} s before contacting the device",
                wait.as_secs_f64()
            );
            clock.sleep(wait);
        }
        self.check_cancelled()?;
        let id = device.identity();
        let mode = if action.is_read_only() && device.concurrent_reads() {
            LockMode::Shared
        } else {
            LockMode::Exclusive
        };
        let owner = format!(
            "{} ({} {}{}) since {}",
            self.call.id,
            self.agent.name,
            action.name(),
            match self.settings.get("port") {
                Some(p) => format!(" plug {p}"),
                None => String::new(),
            },
            crate::runtime::log::timestamp()
        );
        // The wait gets what is left of the budget: the delay has already used its part.
        let left = self
            .settings
            .action_budget()
            .map(|b| b.saturating_sub(clock.elapsed()));
        let held = lock::acquire(self.call.env, &id, mode, left, &owner, clock)?;
        log_debug!(
            1,
            "device session start: {} ({:?} lock {}, waited {:.3} s)",
            id.key(),
            mode,
            held.describe(),
            held.waited.as_secs_f64()
        );
        let result = device.connect(&self.call.clock).and_then(|mut session| {
            let r = self.flow(&mut session);
            session.close();
            r
        });
        log_debug!(1, "device session end: {}", id.key());
        held.release();
        let outcome = result?;
        Ok(Report {
            action: Action::Device(action),
            outcome,
            plugs: self.plugs,
        })
    }

    fn check_cancelled(&self) -> Result<()> {
        if self.call.cancel.is_cancelled() {
            return Err(FenceError::Local(
                "Failed: the call was cancelled before it finished".into(),
            ));
        }
        Ok(())
    }

    /// The action proper, on a connected device.
    pub fn flow<S: Session>(&mut self, dev: &mut S) -> Result<Outcome> {
        match self.action {
            DeviceAction::List { with_state } => self.list(dev, with_state),
            DeviceAction::Monitor if self.agent.has_plugs() => {
                dev.monitor().map(|()| Outcome::Monitored)
            }
            // Monitor without plugs: the status read is the check.
            DeviceAction::Monitor => self.read(dev).map(|_| Outcome::Monitored),
            DeviceAction::Status => match self.read(dev)?.1 {
                Some(s) => Ok(Outcome::Status(s)),
                None => Err(FenceError::UnrecognisedAction("status".into())),
            },
            DeviceAction::On => self.switch(dev, PowerState::On),
            DeviceAction::Off => self.switch(dev, PowerState::Off),
            DeviceAction::Reboot => self.reboot_or_diag(dev, false),
            DeviceAction::Diag => self.reboot_or_diag(dev, true),
        }
    }

    /// The plugs, each looked up once whatever the number of polls that follow, and
    /// their combined state (None for a device without status).
    #[allow(clippy::type_complexity)]
    fn read<S: Session>(
        &mut self,
        dev: &mut S,
    ) -> Result<(Vec<(String, S::Plug)>, Option<PowerState>)> {
        let plugs = self
            .settings
            .plugs
            .iter()
            .map(|given| Ok((given.clone(), dev.plug(given)?)))
            .collect::<Result<Vec<(String, S::Plug)>>>()?;
        let status = if self.agent.has("no_status") {
            None
        } else {
            Some(self.combined_status(dev, &plugs)?)
        };
        Ok((plugs, status))
    }

    /// on or off: nothing to do when every plug is there already (except a forced on).
    fn switch<S: Session>(&mut self, dev: &mut S, target: PowerState) -> Result<Outcome> {
        let (plugs, status) = self.read(dev)?;
        if status == Some(target) && !(target == PowerState::On && self.agent.has("force_on")) {
            return Ok(Outcome::AlreadyIn(target));
        }
        // Saturating: retry_on=4294967295 must not wrap to zero attempts.
        let attempts = match target {
            PowerState::On => self.settings.retry_on.saturating_add(1),
            PowerState::Off => 1,
        };
        if self.set_and_confirm(dev, &plugs, target, attempts)? {
            Ok(Outcome::Switched(target))
        } else {
            Err(match target {
                PowerState::On => FenceError::WaitingOn,
                PowerState::Off => FenceError::WaitingOff,
            })
        }
    }

    fn reboot_or_diag<S: Session>(&mut self, dev: &mut S, diag: bool) -> Result<Outcome> {
        let (plugs, status) = self.read(dev)?;
        self.reboot(dev, &plugs, diag, status)
    }

    fn reboot<S: Session>(
        &mut self,
        dev: &mut S,
        plugs: &[(String, S::Plug)],
        diag: bool,
        status: Option<PowerState>,
    ) -> Result<Outcome> {
        let caps = dev.capabilities();
        let kind = if diag {
            if !caps.diag {
                return Err(FenceError::UnrecognisedAction("diag".into()));
            }
            Some(CycleKind::Diag)
        } else if self.settings.method_cycle {
            let mut cyclable = caps.cycle;
            for (_, plug) in plugs {
                cyclable = cyclable && dev.cyclable(plug)?;
            }
            if !cyclable {
                log_debug!(
                    1,
                    "the device has no power cycle command; rebooting by off and on"
                );
            }
            cyclable.then_some(CycleKind::Cycle)
        } else {
            None
        };
        if let Some(kind) = kind {
            return if self.cycle(dev, plugs, kind)? {
                Ok(Outcome::Rebooted {
                    on_confirmed: false,
                })
            } else {
                Err(FenceError::TimedOut(
                    "the device did not accept the power cycle".into(),
                ))
            };
        }
        if status != Some(PowerState::Off)
            && !self.set_and_confirm(dev, plugs, PowerState::Off, 1)?
        {
            return Err(FenceError::WaitingOff);
        }
        // The node is confirmed off: fencing has succeeded whatever happens next.
        let on = match self.set_and_confirm(dev, plugs, PowerState::On, self.settings.retry_on) {
            Ok(ok) => ok,
            Err(e) => {
                log_warning!("{e}");
                false
            }
        };
        if !on {
            log_error!(
                "Timed out waiting to power ON (the node was powered off; fencing succeeded)"
            );
        }
        Ok(Outcome::Rebooted { on_confirmed: on })
    }

    /// One-command cycle on every plug, with retries. A plug whose every attempt failed
    /// with an error fails the call with the last one, so the device's own reason reaches
    /// the log.
    fn cycle<S: Session>(
        &mut self,
        dev: &mut S,
        plugs: &[(String, S::Plug)],
        kind: CycleKind,
    ) -> Result<bool> {
        let attempts = self.settings.retry_on.saturating_add(1);
        let mut all = true;
        for (_, plug) in plugs {
            let mut done = false;
            let mut last_error = None;
            for _ in 0..attempts {
                self.check_cancelled()?;
                match dev.cycle(plug, kind) {
                    Ok(true) => {
                        done = true;
                        break;
                    }
                    Ok(false) => last_error = None,
                    Err(e) => {
                        log_warning!("{e}");
                        last_error = Some(e);
                    }
                }
            }
            if let (false, Some(e)) = (done, last_error) {
                return Err(e);
            }
            all &= done;
            self.call.clock.sleep(self.settings.power_wait);
        }
        Ok(all)
    }

    /// fence-agents' combined status: off unless some plug is on.
    fn combined_status<S: Session>(
        &mut self,
        dev: &mut S,
        plugs: &[(String, S::Plug)],
    ) -> Result<PowerState> {
        let mut combined = PowerState::Off;
        for (given, plug) in plugs {
            let s = dev.status(plug)?;
            log_debug!(2, "plug '{given}' is {}", s.lower());
            match self.plugs.iter_mut().find(|r| &r.plug == given) {
                Some(r) => r.state = s,
                None => self.plugs.push(PlugResult {
                    plug: given.clone(),
                    state: s,
                }),
            }
            if s != PowerState::Off {
                combined = s;
            }
        }
        Ok(combined)
    }

    /// Ask every plug for `target`, then read back until the device confirms it.
    /// Each attempt polls at most power_timeout times and for at most power_timeout
    /// seconds, stonith_status_sleep apart. Returns whether the state was confirmed.
    fn set_and_confirm<S: Session>(
        &mut self,
        dev: &mut S,
        plugs: &[(String, S::Plug)],
        target: PowerState,
        attempts: u32,
    ) -> Result<bool> {
        let clock = &*self.call.clock;
        let max_polls = self.settings.power_timeout.map(|d| d.as_secs().max(1));
        for attempt in 1..=attempts {
            self.check_cancelled()?;
            log_debug!(
                1,
                "switching {} (attempt {attempt} of {attempts})",
                target.lower()
            );
            for (_, plug) in plugs {
                dev.set_power(plug, target)?;
                clock.sleep(self.settings.power_wait);
            }
            let started = clock.elapsed();
            let mut polls: u64 = 0;
            loop {
                polls = polls.saturating_add(1);
                if self.combined_status(dev, plugs)? == target {
                    log_debug!(
                        1,
                        "confirmed {} after {polls} status read(s)",
                        target.lower()
                    );
                    return Ok(true);
                }
                clock.sleep(self.settings.status_sleep);
                let out_of_polls = max_polls.is_some_and(|m| polls >= m);
                let out_of_time = self
                    .settings
                    .power_timeout
                    .is_some_and(|t| clock.elapsed().saturating_sub(started) >= t);
                if out_of_polls || out_of_time {
                    log_debug!(
                        1,
                        "{} not confirmed after {polls} status read(s)",
                        target.lower()
                    );
                    break;
                }
                self.check_cancelled()?;
            }
        }
        Ok(false)
    }

    fn list<S: Session>(&mut self, dev: &mut S, with_state: bool) -> Result<Outcome> {
        if !dev.capabilities().list {
            return Ok(Outcome::ListUnsupported);
        }
        Ok(Outcome::Listed {
            outlets: dev.list(with_state)?,
            with_state,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The engine against a scripted in-process device and a fake clock: exact call
    //! sequences, poll counts and sleeps, which the real-binary tests cannot see.

    use super::*;
    use crate::contract::agents;
    use crate::contract::{input, option_set, settings};
    use crate::device::{Capabilities, Outlet};
    use crate::engine::render::{self, ExitCode};
    use crate::runtime::call::{Call, CallId, Cancel};
    use crate::runtime::clock::FakeClock;
    use crate::runtime::env::Env;
    use crate::runtime::log::Log;
    use std::collections::BTreeMap;

    const AGENT: &str = r#"
name = "fence_unit"
shortdesc = "unit"
longdesc = "unit"
backend = "dummy"
device_opt = ["ipaddr", "port", "method"]
"#;

    #[derive(Default)]
    struct Fake {
        state: BTreeMap<String, PowerState>,
        stuck: Vec<PowerState>,
        unreadable: bool,
        fail_set_on: bool,
        outlets: Option<Vec<Outlet>>,
        cycle: Option<bool>,
        calls: Vec<String>,
    }

    impl Session for Fake {
        type Plug = String;
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                list: self.outlets.is_some(),
                cycle: self.cycle.is_some(),
                diag: false,
            }
        }
        fn plug(&mut self, given: &str) -> Result<String> {
            Ok(given.to_string())
        }
        fn status(&mut self, plug: &String) -> Result<PowerState> {
            self.calls.push(format!("status {plug}"));
            if self.unreadable {
                return Err(FenceError::Status("unreadable".into()));
            }
            Ok(*self.state.get(plug).unwrap_or(&PowerState::Off))
        }
        fn set_power(&mut self, plug: &String, s: PowerState) -> Result<()> {
            self.calls.push(format!("set {plug} {}", s.lower()));
            if self.fail_set_on && s == PowerState::On {
                return Err(FenceError::ConnectionLost("device went away".into()));
            }
            if !self.stuck.contains(&s) {
                self.state.insert(plug.to_string(), s);
            }
            Ok(())
        }
        fn list(&mut self, _with_state: bool) -> Result<Vec<Outlet>> {
            self.calls.push("list".into());
            Ok(self.outlets.clone().unwrap_or_default())
        }
        fn cycle(&mut self, plug: &String, _k: CycleKind) -> Result<bool> {
            self.calls.push(format!("cycle {plug}"));
            Ok(self.cycle.unwrap_or(false))
        }
        fn close(self) {}
    }

    fn fake(states: &[(&str, PowerState)]) -> Fake {
        Fake {
            state: states.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
            ..Default::default()
        }
    }

    /// Run the flow with `stdin` options; returns (result, stdout, clock sleeps), stdout
    /// as the fence-agents renderer writes it.
    fn run(dev: &mut Fake, stdin: &str) -> (Result<ExitCode>, String, Vec<u64>) {
        let def = agents::parse_agent("unit.toml", AGENT).unwrap();
        let agent = option_set::resolve(def, None).unwrap();
        let raw = input::parse_stdin(&format!("ip=127.0.0.1\n{stdin}"), &agent.options).unwrap();
        let env = Env::default();
        let settings = settings::validate(&agent, &raw, &env).unwrap();
        let clock = FakeClock::shared();
        let call = Call {
            id: CallId::next(),
            env: &env,
            clock: clock.clone(),
            log: Log::in_memory("unit"),
            cancel: Cancel::default(),
        };
        let Action::Device(action) = settings.action else {
            panic!("not a device action: {stdin}")
        };
        let mut engine = Engine::new(&agent, action, &settings, &call);
        let r = engine.flow(dev).map(|outcome| {
            let sep = settings.get("separator").unwrap_or(",");
            render::fence_agents(&Report::new(settings.action, outcome), sep)
        });
        let sleeps = clock.sleeps().iter().map(|d| d.as_secs()).collect();
        match r {
            Ok((out, code)) => (Ok(code), out, sleeps),
            Err(e) => (Err(e), String::new(), sleeps),
        }
    }

    use PowerState::{Off, On};

    #[test]
    fn off_switches_every_plug_then_confirms_all() {
        let mut d = fake(&[("1", On), ("2", On)]);
        let (r, out, _) = run(&mut d, "action=off\nplug=1,2");
        assert_eq!((r, out.as_str()), (Ok(0), "Success: Powered OFF\n"));
        assert_eq!(
            d.calls,
            [
                "status 1",
                "status 2",
                "set 1 off",
                "set 2 off",
                "status 1",
                "status 2"
            ]
        );
    }

    #[test]
    fn combined_status_is_on_if_any_plug_is_on() {
        let mut d = fake(&[("a", Off), ("b", On)]);
        let (r, out, _) = run(&mut d, "action=status\nplug=a;b\nplug_separator=;");
        assert_eq!((r, out.as_str()), (Ok(0), "Status: ON\n"));
        let mut d = fake(&[("a", Off), ("b", Off)]);
        let (r, out, _) = run(&mut d, "action=status\nplug=a;b\nplug_separator=;");
        assert_eq!((r, out.as_str()), (Ok(2), "Status: OFF\n"));
    }

    #[test]
    fn unconfirmed_off_polls_power_timeout_times_with_the_configured_sleeps() {
        let mut d = fake(&[("1", On), ("2", On)]);
        d.stuck = vec![Off];
        let (r, out, sleeps) = run(
            &mut d,
            "action=off\nplug=1,2\npower_timeout=3\npower_wait=2\nstonith_status_sleep=1",
        );
        assert_eq!((r, out.as_str()), (Err(FenceError::WaitingOff), ""));
        assert_eq!(d.calls.iter().filter(|c| c.starts_with("set")).count(), 2);
        // Initial status of both plugs, then 3 polls of both.
        assert_eq!(
            d.calls.iter().filter(|c| c.starts_with("status")).count(),
            2 + 3 * 2
        );
        assert_eq!(
            sleeps,
            [2, 2, 1, 1, 1],
            "power_wait per plug, then the poll sleeps"
        );
    }

    #[test]
    fn power_timeout_is_also_a_time_limit() {
        let mut d = fake(&[("1", On)]);
        d.stuck = vec![Off];
        let (r, _, sleeps) = run(
            &mut d,
            "action=off\nplug=1\npower_timeout=5\nstonith_status_sleep=10",
        );
        assert_eq!(r, Err(FenceError::WaitingOff));
        assert_eq!(
            sleeps,
            [0, 10],
            "one poll: after 10 s the 5 s limit is spent"
        );
    }

    #[test]
    fn on_retries_and_reboot_on_phase_failure_is_still_success() {
        let mut d = fake(&[("1", Off)]);
        d.stuck = vec![On];
        let (r, _, _) = run(&mut d, "action=on\nplug=1\npower_timeout=1\nretry_on=2");
        assert_eq!(r, Err(FenceError::WaitingOn));
        assert_eq!(d.calls.iter().filter(|c| *c == "set 1 on").count(), 3);

        let mut d = fake(&[("1", On)]);
        d.fail_set_on = true;
        let (r, out, _) = run(&mut d, "action=reboot\nplug=1");
        assert_eq!((r, out.as_str()), (Ok(0), "Success: Rebooted\n"));
        assert_eq!(d.state["1"], Off, "left off: fencing succeeded");
    }

    #[test]
    fn the_largest_retry_on_still_makes_attempts() {
        // 1 + 4294967295 once wrapped to zero attempts: "Timed out" without trying.
        let mut d = fake(&[("1", Off)]);
        let (r, out, _) = run(&mut d, "action=on\nplug=1\nretry_on=4294967295");
        assert_eq!((r, out.as_str()), (Ok(0), "Success: Powered ON\n"));
        let mut d = fake(&[("1", On)]);
        d.cycle = Some(true);
        let (r, _, _) = run(
            &mut d,
            "action=reboot\nplug=1\nmethod=cycle\nretry_on=4294967295",
        );
        assert_eq!(r, Ok(0));
        assert_eq!(d.calls, ["status 1", "cycle 1"]);
    }

    #[test]
    fn unreadable_status_fails_before_any_switching() {
        let mut d = fake(&[]);
        d.unreadable = true;
        for action in ["status", "off", "reboot", "on"] {
            let (r, out, _) = run(&mut d, &format!("action={action}\nplug=1"));
            assert!(matches!(r, Err(FenceError::Status(_))), "{action}");
            assert_eq!(out, "");
        }
        assert!(d.calls.iter().all(|c| c.starts_with("status")));
    }

    #[test]
    fn list_and_list_status_formats() {
        let outlets = vec![
            Outlet {
                id: "1".into(),
                alias: "web".into(),
                state: Some(On),
            },
            Outlet {
                id: "2".into(),
                alias: String::new(),
                state: None,
            },
            Outlet {
                id: "3".into(),
                alias: "db".into(),
                state: Some(Off),
            },
        ];
        let mut d = Fake {
            outlets: Some(outlets),
            ..Default::default()
        };
        let (r, out, _) = run(&mut d, "action=list");
        assert_eq!((r, out.as_str()), (Ok(0), "1,web\n2,\n3,db\n"));
        let (r, out, _) = run(&mut d, "action=list-status\nseparator=;");
        assert_eq!(
            (r, out.as_str()),
            (Ok(0), "1;web;on\n2;;UNKNOWN\n3;db;off\n")
        );
        let (r, out, _) = run(&mut d, "action=monitor");
        assert_eq!((r, out.as_str()), (Ok(0), ""), "monitor lists silently");
        assert_eq!(d.calls, ["list", "list", "list"]);
    }

    #[test]
    fn list_without_support_prints_the_notice() {
        let mut d = Fake::default();
        let (r, out, _) = run(&mut d, "action=list");
        assert_eq!(
            (r, out.as_str()),
            (
                Ok(0),
                "NOTICE: List option is not working on this device yet\n"
            )
        );
    }

    #[test]
    fn method_cycle_uses_the_device_cycle_without_off_and_on() {
        let mut d = fake(&[("1", On)]);
        d.cycle = Some(true);
        let (r, out, _) = run(&mut d, "action=reboot\nplug=1\nmethod=cycle");
        assert_eq!((r, out.as_str()), (Ok(0), "Success: Rebooted\n"));
        assert_eq!(d.calls, ["status 1", "cycle 1"]);

        let mut d = fake(&[("1", On)]);
        d.cycle = Some(false);
        let (r, out, _) = run(&mut d, "action=reboot\nplug=1\nmethod=cycle\nretry_on=2");
        assert!(matches!(r, Err(FenceError::TimedOut(_))), "{r:?}");
        assert_eq!(out, "");
        assert_eq!(d.calls.iter().filter(|c| c.starts_with("cycle")).count(), 3);

        let mut d = fake(&[("1", On)]);
        let (r, _, _) = run(&mut d, "action=reboot\nplug=1\nmethod=cycle");
        assert_eq!(r, Ok(0));
        assert!(
            d.calls.contains(&"set 1 off".to_string()),
            "no cycle command: off and on"
        );
    }
}
