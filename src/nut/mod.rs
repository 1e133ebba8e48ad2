//! The NUT network protocol (RFC 9271), client side: a line-based TCP protocol to upsd,
//! with STARTTLS. `proto` is the text (quoting, reply words, error codes), `tls` the
//! certificate policies, `client` the connection and its commands.

pub mod client;
pub mod proto;
pub mod tls;
