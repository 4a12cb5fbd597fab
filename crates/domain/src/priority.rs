use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    #[default]
    Standard,
    Urgent,
    Emergency,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Standard, Priority::Urgent, Priority::Emergency];

    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Standard => "standard",
            Priority::Urgent => "urgent",
            Priority::Emergency => "emergency",
        }
    }

    /// As a dispatcher reads it.
    pub const fn label(self) -> &'static str {
        match self {
            Priority::Standard => "Standard",
            Priority::Urgent => "Urgent",
            Priority::Emergency => "Emergency",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s).ok_or(())
    }
}
