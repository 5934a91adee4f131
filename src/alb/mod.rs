//! The ALB access-log format, and nothing else: what a line holds ([`record`]) and how it is
//! read ([`split`] into fields, [`parse`] into a record). No I/O, no policy about which requests matter.

pub mod parse;
pub mod record;
pub mod split;

pub use parse::{ParseError, parse_into, parse_line};
pub use record::{AlbRecord, ConnType, Escaped, HostPort, Request};
