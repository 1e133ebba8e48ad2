//! The fence-agents contract: options, input, actions, metadata, help and man pages.
//! Everything Pacemaker, pcs and crmsh can observe lives here; devices live in `device`.

pub mod action;
pub mod agents;
pub mod error;
pub mod help;
pub mod input;
pub mod manpage;
pub mod metadata;
pub mod option_set;
pub mod options;
pub mod settings;
