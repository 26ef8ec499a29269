//! A call's variables: text values by name. Numbers, booleans and dates are text too; the
//! conditions interpret them.

use std::collections::BTreeMap;

/// Variables set by the engine itself; always defined.
pub const BUILTINS: &[&str] = &[
    "ani",
    "dnis",
    "caller_withheld",
    "call_id",
    "language",
    "last_digit",
    "today",
    "flow",
];

/// A call's variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    /// The value, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Sets a value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_string(), value.into());
    }

    /// Removes a value and every `name.field` under it.
    pub(crate) fn clear_prefix(&mut self, prefix: &str) {
        let dotted = format!("{prefix}.");
        self.values
            .retain(|k, _| k != prefix && !k.starts_with(&dotted));
    }

    /// All values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
