//! The compiled flow graph. Only [`crate::compile`] builds one, so every `NodeId` and `FlowId`
//! in it points at a node that exists, every prompt exists in every declared language, and every
//! variable read is written somewhere.

use std::collections::HashMap;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::say::Currency;
use crate::template::Template;

/// A node's index in its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NodeId(pub(crate) u32);

/// A flow's index in its set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId(pub(crate) u32);

/// Every compiled flow, by name (the file stem).
#[derive(Debug)]
pub struct FlowSet {
    pub(crate) flows: Vec<Flow>,
    pub(crate) by_name: HashMap<String, FlowId>,
}

impl FlowSet {
    /// The flow with this name.
    pub fn find(&self, name: &str) -> Option<FlowId> {
        self.by_name.get(name).copied()
    }

    /// Flow names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub(crate) fn flow(&self, id: FlowId) -> &Flow {
        &self.flows[id.0 as usize]
    }
}

/// One compiled flow.
#[derive(Debug)]
pub(crate) struct Flow {
    pub(crate) name: String,
    pub(crate) start: NodeId,
    pub(crate) nodes: Vec<Node>,
    /// Declared languages; the first is the default.
    pub(crate) languages: Vec<String>,
    pub(crate) timezone: TimeZone,
    pub(crate) currency: Currency,
    pub(crate) vars: Vec<(String, String)>,
}

impl Flow {
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Play {
        items: Vec<SayItem>,
        barge_in: bool,
        on_key: Option<NodeId>,
        next: NodeId,
    },
    Menu(Box<Menu>),
    Collect(Box<Collect>),
    Branch {
        cases: Vec<(Cond, NodeId)>,
        otherwise: NodeId,
    },
    Lookup {
        source: String,
        key: Template,
        into: String,
        found: NodeId,
        not_found: NodeId,
    },
    Http(Box<Http>),
    Sms(Box<Sms>),
    Consent(Box<Consent>),
    Dial(Box<Dial>),
    Queue(Box<QueueNode>),
    Transfer {
        target: Template,
        on_failure: Option<NodeId>,
    },
    HangUp,
    Goto(FlowId),
    Call {
        flow: FlowId,
        next: NodeId,
    },
    Return,
    Set {
        vars: Vec<(String, Template)>,
        next: NodeId,
    },
    Event {
        name: String,
        fields: Vec<(String, Template)>,
        next: NodeId,
    },
}

/// A playlist entry.
#[derive(Debug)]
pub(crate) enum SayItem {
    Prompt(String),
    Digits(Template),
    Number(Template),
    Amount(Template),
    Time(Template),
    Silence(u32),
}

#[derive(Debug)]
pub(crate) struct Menu {
    pub(crate) greeting: Vec<SayItem>,
    pub(crate) greeting_short: Option<Vec<SayItem>>,
    pub(crate) choices: Vec<(String, NodeId)>,
    pub(crate) invalid: Vec<SayItem>,
    pub(crate) no_input: Vec<SayItem>,
    pub(crate) timeout: Duration,
    pub(crate) inter_digit: Duration,
    pub(crate) max_failures: u32,
    pub(crate) max_timeouts: u32,
    pub(crate) on_failure: NodeId,
    pub(crate) on_no_input: NodeId,
    pub(crate) store: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Collect {
    pub(crate) prompts: Vec<SayItem>,
    pub(crate) store: String,
    pub(crate) min_digits: usize,
    pub(crate) max_digits: usize,
    pub(crate) terminator: Option<char>,
    pub(crate) first_digit_timeout: Duration,
    pub(crate) inter_digit_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) invalid: Vec<SayItem>,
    pub(crate) no_input: Vec<SayItem>,
    pub(crate) confirm: Option<Confirm>,
    pub(crate) next: NodeId,
    pub(crate) on_failure: NodeId,
    pub(crate) on_no_input: NodeId,
    pub(crate) sensitive: bool,
}

#[derive(Debug)]
pub(crate) struct Confirm {
    pub(crate) before: Vec<SayItem>,
    pub(crate) after: Vec<SayItem>,
    pub(crate) yes: char,
    pub(crate) no: char,
}

#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) method: HttpMethod,
    pub(crate) url: Template,
    pub(crate) body: Option<Template>,
    pub(crate) timeout: Duration,
    pub(crate) map: Vec<(String, String)>,
    pub(crate) on_success: NodeId,
    pub(crate) on_failure: NodeId,
    pub(crate) on_timeout: NodeId,
}

/// HTTP methods the http node uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST with a JSON body.
    Post,
}

#[derive(Debug)]
pub(crate) struct Sms {
    pub(crate) to: Template,
    pub(crate) text: Template,
    pub(crate) purpose: String,
    pub(crate) coupon: Option<(String, u32)>,
    pub(crate) timeout: Duration,
    pub(crate) next: NodeId,
    pub(crate) on_failure: NodeId,
}

#[derive(Debug)]
pub(crate) struct Dial {
    pub(crate) to: Vec<Template>,
    pub(crate) trunk: Option<String>,
    pub(crate) mode: DialMode,
    pub(crate) ring_timeout: Duration,
    pub(crate) caller_id: Option<Template>,
    pub(crate) after: Option<NodeId>,
    pub(crate) busy: NodeId,
    pub(crate) no_answer: NodeId,
    pub(crate) failed: NodeId,
}

#[derive(Debug)]
pub(crate) struct QueueNode {
    pub(crate) queue: String,
    pub(crate) priority: i32,
    pub(crate) after: Option<NodeId>,
    pub(crate) timeout: NodeId,
    pub(crate) full: NodeId,
    pub(crate) no_agents: NodeId,
    pub(crate) exit_key: Option<NodeId>,
    pub(crate) callback: Option<NodeId>,
}

/// How a dial node's targets are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialMode {
    /// One after another, each for the ring timeout.
    Sequential,
    /// All at once; the first to answer wins, the others are cancelled.
    Simultaneous,
}

#[derive(Debug)]
pub(crate) struct Consent {
    pub(crate) number: Template,
    pub(crate) purpose: String,
    pub(crate) answer: ConsentAnswer,
    pub(crate) timeout: Duration,
    pub(crate) next: NodeId,
    pub(crate) on_failure: NodeId,
}

/// What a caller said to an SMS consent question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentAnswer {
    /// Yes to this purpose.
    Granted,
    /// No to this purpose.
    Declined,
    /// No SMS at all from us, ever (until an opt-in or START).
    OptOut,
    /// Lifts an earlier opt-out.
    OptIn,
    /// Asked, and no answer came (a wait-time SMS offer nobody answered).
    NoResponse,
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Cond {
    Compare {
        var: String,
        op: CompareOp,
        value: Template,
    },
    IsSet {
        var: String,
        set: bool,
    },
    /// Minutes after midnight, `[from, to)`, wrapping when `from > to`.
    TimeBetween {
        from: u16,
        to: u16,
    },
    /// Bit 0 = Monday.
    Weekdays(u8),
    All(Vec<Self>),
    Any(Vec<Self>),
    Not(Box<Self>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Equals,
    NotEquals,
    Prefix,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Local time facts a condition reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalTime {
    pub(crate) minute_of_day: u16,
    /// 0 = Monday.
    pub(crate) weekday: u8,
}

impl Cond {
    pub(crate) fn eval(&self, vars: &crate::Vars, time: LocalTime) -> bool {
        match self {
            Self::Compare { var, op, value } => {
                let left = vars.get(var).unwrap_or("");
                let right = value.render(vars);
                compare(left, *op, &right)
            }
            Self::IsSet { var, set } => vars.get(var).is_some_and(|v| !v.is_empty()) == *set,
            Self::TimeBetween { from, to } => {
                let m = time.minute_of_day;
                if from <= to {
                    (*from..*to).contains(&m)
                } else {
                    m >= *from || m < *to
                }
            }
            Self::Weekdays(mask) => mask & (1 << time.weekday) != 0,
            Self::All(all) => all.iter().all(|c| c.eval(vars, time)),
            Self::Any(any) => any.iter().any(|c| c.eval(vars, time)),
            Self::Not(c) => !c.eval(vars, time),
        }
    }
}

/// Numbers compare numerically when both sides parse; anything else compares as text, so ISO
/// dates (`2026-11-22`) order correctly.
fn compare(left: &str, op: CompareOp, right: &str) -> bool {
    use std::cmp::Ordering;
    let order = match (left.trim().parse::<f64>(), right.trim().parse::<f64>()) {
        (Ok(l), Ok(r)) => l.partial_cmp(&r).unwrap_or(Ordering::Equal),
        _ => left.cmp(right),
    };
    match op {
        CompareOp::Equals => left == right,
        CompareOp::NotEquals => left != right,
        CompareOp::Prefix => left.starts_with(right),
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert!(compare("10", CompareOp::Gt, "9"));
        assert!(compare("-0.5", CompareOp::Lt, "0"));
        assert!(compare("2027-01-01", CompareOp::Gt, "2026-11-22"));
        assert!(compare("+4930", CompareOp::Prefix, "+49"));
        assert!(!compare("", CompareOp::Gt, "0"));
    }

    #[test]
    fn time_windows_wrap_midnight() {
        let night = Cond::TimeBetween {
            from: 22 * 60,
            to: 6 * 60,
        };
        let at = |h: u16| LocalTime {
            minute_of_day: h * 60,
            weekday: 0,
        };
        let v = crate::Vars::default();
        assert!(night.eval(&v, at(23)));
        assert!(night.eval(&v, at(2)));
        assert!(!night.eval(&v, at(6)));
        assert!(!night.eval(&v, at(12)));
    }
}
