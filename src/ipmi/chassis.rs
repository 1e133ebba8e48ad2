//! The chassis commands fencing uses (IPMI 2.0 §28.2, §28.3).

use crate::ipmi::session::Session;
use crate::ipmi::{netfn, IpmiError};

const GET_CHASSIS_STATUS: u8 = 0x01;
const CHASSIS_CONTROL: u8 = 0x02;

/// Chassis Control request values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    PowerDown = 0,
    PowerUp = 1,
    PowerCycle = 2,
    HardReset = 3,
    DiagnosticInterrupt = 4,
    SoftShutdown = 5,
}

impl Control {
    pub fn name(self) -> &'static str {
        match self {
            Control::PowerDown => "power down",
            Control::PowerUp => "power up",
            Control::PowerCycle => "power cycle",
            Control::HardReset => "hard reset",
            Control::DiagnosticInterrupt => "diagnostic interrupt",
            Control::SoftShutdown => "soft shutdown",
        }
    }
}

/// Whether the system is powered on, from Get Chassis Status.
pub fn power_is_on(s: &mut Session) -> Result<bool, IpmiError> {
    let data = s.command(
        "Get Chassis Status",
        netfn::CHASSIS,
        GET_CHASSIS_STATUS,
        &[],
    )?;
    let current = data.first().ok_or_else(|| {
        IpmiError::Protocol("Get Chassis Status answered without the power state".into())
    })?;
    Ok(current & 0x01 != 0)
}

/// Send a Chassis Control request and wait for the BMC to accept it (the completion code
/// only: the power state is confirmed separately by reading it).
pub fn control(s: &mut Session, what: Control) -> Result<(), IpmiError> {
    s.command(
        "Chassis Control",
        netfn::CHASSIS,
        CHASSIS_CONTROL,
        &[what as u8],
    )
    .map(|_| ())
}
