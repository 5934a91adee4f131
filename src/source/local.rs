//! A local folder laid out like the log bucket (the embedded default).
//! (Contract stub: being implemented.)

use std::path::Path;

use chrono::NaiveDate;

use super::{Listing, SourceError};

/// Lists the ALB access-log objects under `root` that can hold requests of `day` (UTC).
pub fn list_day(_root: &Path, _day: NaiveDate) -> Result<Listing, SourceError> {
    Ok(Listing::default())
}
