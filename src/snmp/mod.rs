//! SNMP: the client (snmp2 underneath) and the device families that turn plugs into OIDs.

pub mod client;
pub mod family;
pub mod identify;
pub mod oid;
pub mod transport;
