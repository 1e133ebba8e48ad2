//! What a device action ended with: typed, confirmed by the device, and free of any
//! output format. The fence-agents renderer turns it into stdout lines and an exit code;
//! fleet commands and the power service will render the same value as JSON.

use crate::contract::action::Action;
use crate::device::{Outlet, PowerState};

/// The end of one action that succeeded (failures are `FenceError`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// on or off, and every plug already was in that state: nothing was switched.
    AlreadyIn(PowerState),
    /// on or off, switched and read back from the device.
    Switched(PowerState),
    /// reboot or diag: the off (or the device's one-command cycle) was confirmed, so the
    /// node was fenced; `on_confirmed` says whether it came back on as well.
    Rebooted { on_confirmed: bool },
    /// status: on if any plug is on (fence-agents' combined status).
    Status(PowerState),
    /// list or list-status: every plug the device has.
    Listed {
        outlets: Vec<Outlet>,
        with_state: bool,
    },
    /// list on a device that cannot enumerate its plugs.
    ListUnsupported,
    /// monitor: the device answered.
    Monitored,
    /// validate-all: the options are valid (nothing was contacted).
    Validated,
}

/// The last state the device confirmed for one plug during the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlugResult {
    pub plug: String,
    pub state: PowerState,
}

/// An action's outcome with the per-plug states read on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub action: Action,
    pub outcome: Outcome,
    pub plugs: Vec<PlugResult>,
}

impl Report {
    pub fn new(action: Action, outcome: Outcome) -> Report {
        Report {
            action,
            outcome,
            plugs: Vec::new(),
        }
    }
}
