//! Errors in flow files, each with its file, node and field.

use std::fmt;

/// What is wrong.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file is not TOML of the right shape (unknown field, wrong type, bad syntax).
    #[error("{0}")]
    Syntax(String),
    /// A target names no node of this flow.
    #[error("no node named `{0}` in this flow")]
    UnknownTarget(String),
    /// A `goto`/`call` names no flow.
    #[error("no flow named `{0}`")]
    UnknownFlow(String),
    /// Prompts missing from a language's prompt set.
    #[error("missing from the `{language}` prompt set: {}", .prompts.join(", "))]
    MissingPrompts {
        /// Language.
        language: String,
        /// Prompt names.
        prompts: Vec<String>,
    },
    /// A variable is read but nothing sets it.
    #[error("variable `{0}` is never set (not built in, not in [vars], not stored by any node)")]
    UndefinedVariable(String),
    /// A number outside its allowed range.
    #[error("{value} is outside {min}..={max}")]
    OutOfRange {
        /// The value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A lookup names a data source that is not configured.
    #[error("no data source named `{0}`")]
    UnknownSource(String),
    /// Anything else, explained.
    #[error("{0}")]
    Invalid(String),
}

/// One error in a flow file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (as given to [`crate::load`]).
    pub file: String,
    /// The node, when the error is inside one.
    pub node: Option<String>,
    /// The field (`choices.6`, `prompts[2]`, `flow.start`).
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(node) = &self.node {
            write!(f, "node `{node}`: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.problem)
    }
}
