//! Many nodes at once: the inventory (devices, nodes, their feeds and the power chain),
//! host lists that select nodes, and power commands that switch every feed of the selected
//! nodes with fencing's rules.

pub mod agent;
pub mod chain;
pub mod command;
pub mod hostlist;
pub mod import;
pub mod inventory;
pub mod locks;
pub mod power;
pub mod report;
pub mod stats;
