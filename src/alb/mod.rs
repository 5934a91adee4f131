//! The ALB access-log format, and nothing else: what a line holds ([`record`]) and how it is
//! read ([`parse`]). No I/O, no policy about which requests matter.

pub mod parse;
pub mod record;

pub use parse::{ParseError, parse_line};
pub use record::{AlbRecord, ConnType, Escaped, HostPort, Request};
