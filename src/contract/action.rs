//! The actions an agent understands (fence-agents protocol §3.1).

use crate::contract::error::FenceError;
use crate::contract::option_set::Agent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    On,
    Off,
    Reboot,
    Status,
    List,
    ListStatus,
    Monitor,
    Metadata,
    Manpage,
    ValidateAll,
    /// Diagnostic interrupt (IPMI): a reboot by the device's own diag command.
    Diag,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::On => "on",
            Action::Off => "off",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::List => "list",
            Action::ListStatus => "list-status",
            Action::Monitor => "monitor",
            Action::Metadata => "metadata",
            Action::Manpage => "manpage",
            Action::ValidateAll => "validate-all",
            Action::Diag => "diag",
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
        let action = match name {
            "on" => Action::On,
            "off" => Action::Off,
            "reboot" => Action::Reboot,
            "status" => Action::Status,
            "list" => Action::List,
            "list-status" => Action::ListStatus,
            "monitor" => Action::Monitor,
            "metadata" => Action::Metadata,
            "manpage" => Action::Manpage,
            "validate-all" => Action::ValidateAll,
            "diag" => Action::Diag,
            _ => return Err(FenceError::UnrecognisedAction(raw.to_string())),
        };
        if accepted {
            Ok(action)
        } else {
            Err(FenceError::UnrecognisedAction(raw.to_string()))
        }
    }

    /// Actions that change power; only these wait out `delay`.
    pub fn is_fencing(self) -> bool {
        matches!(self, Action::Off | Action::Reboot | Action::Diag)
    }

    /// Actions that only read the device and may share it with other readers.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Action::Status | Action::List | Action::ListStatus | Action::Monitor
        )
    }
}
