//! The `nom` parser: one line of bytes -> [`AlbRecord`], borrowing from the line.
//! (Contract stub: being implemented.)

use super::record::AlbRecord;

/// Why a line is not an access-log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
}

impl ParseError {
    /// A stable snake_case name, used as the key in reports.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
        }
    }
}

/// Parses one line (without its line terminator; a trailing `\r` is tolerated).
pub fn parse_line(_line: &[u8]) -> Result<AlbRecord<'_>, ParseError> {
    Err(ParseError::Empty)
}
