//! fence-agents' rendering of an outcome: the stdout lines Pacemaker reads and the exit
//! code (0 success, 2 for status OFF; failures are rendered by the caller from the error).

use crate::device::PowerState;
use crate::engine::outcome::{Outcome, Report};

/// Exit code of a successful action.
pub type ExitCode = u8;

/// stdout text and exit code of a successful action; `separator` joins list fields.
pub fn fence_agents(report: &Report, separator: &str) -> (String, ExitCode) {
    match &report.outcome {
        Outcome::AlreadyIn(s) => (format!("Success: Already {}\n", s.upper()), 0),
        Outcome::Switched(s) => (format!("Success: Powered {}\n", s.upper()), 0),
        Outcome::Rebooted { .. } => ("Success: Rebooted\n".into(), 0),
        Outcome::Status(s) => (
            format!("Status: {}\n", s.upper()),
            if *s == PowerState::Off { 2 } else { 0 },
        ),
        Outcome::Listed {
            outlets,
            with_state,
        } => {
            let mut text = String::new();
            for o in outlets {
                text.push_str(&o.id);
                text.push_str(separator);
                text.push_str(&o.alias);
                if *with_state {
                    text.push_str(separator);
                    text.push_str(o.state.map(PowerState::lower).unwrap_or("UNKNOWN"));
                }
                text.push('\n');
            }
            (text, 0)
        }
        Outcome::ListUnsupported => (
            "NOTICE: List option is not working on this device yet\n".into(),
            0,
        ),
        Outcome::Monitored | Outcome::Validated => (String::new(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::action::{Action, DeviceAction};
    use crate::device::Outlet;

    fn render(action: Action, outcome: Outcome) -> (String, ExitCode) {
        fence_agents(&Report::new(action, outcome), ",")
    }

    #[test]
    fn lines_and_exit_codes() {
        use PowerState::{Off, On};
        assert_eq!(
            render(Action::Device(DeviceAction::Off), Outcome::AlreadyIn(Off)),
            ("Success: Already OFF\n".into(), 0)
        );
        assert_eq!(
            render(Action::Device(DeviceAction::On), Outcome::Switched(On)),
            ("Success: Powered ON\n".into(), 0)
        );
        assert_eq!(
            render(Action::Device(DeviceAction::Status), Outcome::Status(Off)),
            ("Status: OFF\n".into(), 2)
        );
        assert_eq!(
            render(
                Action::Device(DeviceAction::Reboot),
                Outcome::Rebooted {
                    on_confirmed: false
                }
            ),
            ("Success: Rebooted\n".into(), 0)
        );
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
        ];
        let listed = |with_state| Outcome::Listed {
            outlets: outlets.clone(),
            with_state,
        };
        assert_eq!(
            render(
                Action::Device(DeviceAction::List { with_state: false }),
                listed(false)
            )
            .0,
            "1,web\n2,\n"
        );
        assert_eq!(
            fence_agents(
                &Report::new(
                    Action::Device(DeviceAction::List { with_state: true }),
                    listed(true)
                ),
                ";"
            )
            .0,
            "1;web;on\n2;;UNKNOWN\n"
        );
    }
}
