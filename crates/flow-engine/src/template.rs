//! Templates: text with `{variable}` references, parsed once at compile time. `{{` and `}}`
//! are literal braces.

use crate::vars::Vars;

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl Template {
    /// Parses `text`; the error names the problem.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if is_name_char(c) => name.push(c),
                            Some(c) => {
                                return Err(format!("character {c:?} in a variable name"));
                            }
                            None => return Err("unclosed `{`".into()),
                        }
                    }
                    if name.is_empty() {
                        return Err("empty `{}`".into());
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(name));
                }
                '}' => return Err("unmatched `}` (write `}}` for a brace)".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The variables referenced.
    pub(crate) fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with variables substituted; unset variables are empty.
    pub(crate) fn render(&self, vars: &Vars) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(vars.get(v).unwrap_or("")),
            }
        }
        out
    }

    /// The literal text when the template has no variable.
    pub(crate) fn literal(&self) -> Option<String> {
        match self.parts.as_slice() {
            [] => Some(String::new()),
            [Part::Text(t)] => Some(t.clone()),
            _ => None,
        }
    }
}

/// Characters allowed in variable names: letters, digits, `_`, `-` and `.` (for `record.field`).
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// A valid variable name.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_and_escapes() {
        let t = Template::parse("Hi {name}, {{literal}} {acct.no}").unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["name", "acct.no"]);
        let mut v = Vars::default();
        v.set("name", "Ann");
        assert_eq!(t.render(&v), "Hi Ann, {literal} ");
        assert_eq!(
            Template::parse("plain").unwrap().literal(),
            Some("plain".into())
        );
    }

    #[test]
    fn rejects_broken_templates() {
        for bad in ["{", "{}", "a}", "{a b}", "{a"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
