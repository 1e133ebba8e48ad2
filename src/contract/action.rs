//! The actions an agent understands (fence-agents protocol §3.1). The action is read once,
//! at the entry point, into this type; what it can be decides what may follow: only a
//! `DeviceAction` reaches the engine.

use crate::contract::error::FenceError;
use crate::contract::option_set::Agent;

/// What a call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Something done on the device.
    Device(DeviceAction),
    /// Check the options (and the backend's configuration of them); no contact.
    ValidateAll,
    /// A document about the agent, rendered by the entry point.
    Describe(Document),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Metadata,
    Manpage,
}

/// The actions the engine runs on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAction {
    On,
    Off,
    Reboot,
    Status,
    /// list (`with_state` false) and list-status.
    List {
        with_state: bool,
    },
    Monitor,
    /// Diagnostic interrupt (IPMI): a reboot by the device's own diag command.
    Diag,
}

impl DeviceAction {
    pub fn name(self) -> &'static str {
        match self {
            DeviceAction::On => "on",
            DeviceAction::Off => "off",
            DeviceAction::Reboot => "reboot",
            DeviceAction::Status => "status",
            DeviceAction::List { with_state: false } => "list",
            DeviceAction::List { with_state: true } => "list-status",
            DeviceAction::Monitor => "monitor",
            DeviceAction::Diag => "diag",
        }
    }

    /// Actions that change power; only these wait out `delay`.
    pub fn is_fencing(self) -> bool {
        matches!(
            self,
            DeviceAction::Off | DeviceAction::Reboot | DeviceAction::Diag
        )
    }

    /// Actions that only read the device and may share it with other readers.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            DeviceAction::Status | DeviceAction::List { .. } | DeviceAction::Monitor
        )
    }

    /// Actions that act on the given plugs (list and monitor need none).
    pub fn needs_plug(self) -> bool {
        !matches!(self, DeviceAction::List { .. } | DeviceAction::Monitor)
    }
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Device(a) => a.name(),
            Action::ValidateAll => "validate-all",
            Action::Describe(Document::Metadata) => "metadata",
            Action::Describe(Document::Manpage) => "manpage",
        }
    }

    /// Read the action as fence-agents does: case-insensitive, `meta-data` for `metadata`,
    /// `enable`/`disable` for on/off on fabric agents; anything the agent does not
    /// advertise is refused with the wording Pacemaker maps to EOPNOTSUPP.
    pub fn parse(raw: &str, agent: &Agent) -> Result<Action, FenceError> {
        let lower = raw.to_ascii_lowercase();
        let name = match lower.as_str() {
            "meta-data" => "metadata",
            "enable" if agent.is_fabric() => "on",
            "disable" if agent.is_fabric() => "off",
            other => other,
        };
        let list_like = matches!(name, "list" | "list-status");
        // port-as-ip agents take a plug but cannot list; fence-agents still accepts the
        // request and answers with a notice.
        let accepted = agent.actions().contains(&name) || (list_like && agent.has("port"));
        let device = |a| Action::Device(a);
        let action = match name {
            "on" => device(DeviceAction::On),
            "off" => device(DeviceAction::Off),
            "reboot" => device(DeviceAction::Reboot),
            "status" => device(DeviceAction::Status),
            "list" => device(DeviceAction::List { with_state: false }),
            "list-status" => device(DeviceAction::List { with_state: true }),
            "monitor" => device(DeviceAction::Monitor),
            "diag" => device(DeviceAction::Diag),
            "metadata" => Action::Describe(Document::Metadata),
            "manpage" => Action::Describe(Document::Manpage),
            "validate-all" => Action::ValidateAll,
            _ => return Err(FenceError::UnrecognisedAction(raw.to_string())),
        };
        if accepted {
            Ok(action)
        } else {
            Err(FenceError::UnrecognisedAction(raw.to_string()))
        }
    }

    /// Actions that only read the device and may share it with other readers.
    pub fn is_read_only(self) -> bool {
        matches!(self, Action::Device(a) if a.is_read_only())
    }
}
