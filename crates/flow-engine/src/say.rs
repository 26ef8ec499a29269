//! Saying values from recorded fragments: digits, numbers, amounts and times in English,
//! German and Ukrainian. Each function returns prompt names; `fragments` lists every name a kind
//! can need so that a flow is checked against its prompt sets before it goes live.
//!
//! Fragment names: `num-0` … `num-19`, `num-20` … `num-90` (tens), `minus`, and per language:
//! - en: `num-hundred`, `num-thousand`, `num-million`, `and`, `oclock`, `oh`;
//! - de: `num-ein` ("ein" before hundert/tausend/Uhr), `num-N-und` ("einund" … "neunund"),
//!   `num-hundert`, `num-tausend`, `num-eine-million`, `num-millionen`, `und`, `uhr`;
//! - uk: feminine `num-1-f`/`num-2-f`, neuter `num-1-n`, hundreds `num-100` … `num-900`,
//!   `thousand-{one,few,many}`, `million-{one,few,many}`, `hour-…`, `minute-…`.
//!
//! Money is `cur-CODE-FORM` and `sub-CODE-FORM`, FORM being the plural form the language
//! needs for the count (en/de: one, many; uk: one, few, many).

/// Caller languages with number rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    En,
    De,
    Uk,
}

impl Language {
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            "de" => Some(Self::De),
            "uk" => Some(Self::Uk),
            _ => None,
        }
    }
}

/// Currencies `amount` can say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Currency {
    Eur,
    Usd,
    Uah,
}

impl Currency {
    pub(crate) fn from_code(code: &str) -> Option<Self> {
        match code {
            "EUR" => Some(Self::Eur),
            "USD" => Some(Self::Usd),
            "UAH" => Some(Self::Uah),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Eur => "eur",
            Self::Usd => "usd",
            Self::Uah => "uah",
        }
    }

    /// Grammatical gender of the unit and sub-unit in Ukrainian.
    fn uk_gender(self) -> (Gender, Gender) {
        match self {
            Self::Eur => (Gender::Neuter, Gender::Masculine),
            Self::Usd => (Gender::Masculine, Gender::Masculine),
            Self::Uah => (Gender::Feminine, Gender::Feminine),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gender {
    Masculine,
    Feminine,
    Neuter,
}

/// Largest number said.
pub(crate) const MAX_NUMBER: u64 = 999_999_999;

/// Each key of `text` as `digit-N`; other characters are skipped.
pub(crate) fn digits(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' | 'A'..='D' => Some(format!("digit-{c}")),
            '*' => Some("digit-star".into()),
            '#' => Some("digit-pound".into()),
            _ => None,
        })
        .collect()
}

/// An integer in words, or `None` when it is not an integer or too large.
pub(crate) fn number(lang: Language, text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let n: u64 = digits.parse().ok().filter(|&n| n <= MAX_NUMBER)?;
    let mut out = Vec::new();
    if negative && n > 0 {
        out.push("minus".to_string());
    }
    words(lang, n, Gender::Masculine, &mut out);
    Some(out)
}

/// An amount (`12.5`, `12,50`, `-3`) with the currency's unit and sub-unit names.
pub(crate) fn amount(lang: Language, currency: Currency, text: &str) -> Option<Vec<String>> {
    let text = text.trim().replace(',', ".");
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text),
    };
    let (units, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let units: u64 = units.parse().ok().filter(|&n| n <= MAX_NUMBER)?;
    if fraction.len() > 2 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let cents: u64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    let (unit_gender, sub_gender) = match lang {
        Language::Uk => currency.uk_gender(),
        _ => (Gender::Masculine, Gender::Masculine),
    };
    let mut out = Vec::new();
    if negative && (units > 0 || cents > 0) {
        out.push("minus".to_string());
    }
    if units > 0 || cents == 0 {
        words(lang, units, unit_gender, &mut out);
        out.push(format!("cur-{}-{}", currency.code(), form(lang, units)));
    }
    if cents > 0 {
        if units > 0 {
            out.push(and_word(lang).into());
        }
        words(lang, cents, sub_gender, &mut out);
        out.push(format!("sub-{}-{}", currency.code(), form(lang, cents)));
    }
    Some(out)
}

/// A time of day `HH:MM` (24 h).
pub(crate) fn time(lang: Language, text: &str) -> Option<Vec<String>> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let mut out = Vec::new();
    match lang {
        Language::En => {
            words(lang, h, Gender::Masculine, &mut out);
            match m {
                0 => out.push("oclock".into()),
                1..=9 => {
                    out.push("oh".into());
                    words(lang, m, Gender::Masculine, &mut out);
                }
                _ => words(lang, m, Gender::Masculine, &mut out),
            }
        }
        Language::De => {
            if h == 1 {
                out.push("num-ein".into());
            } else {
                words(lang, h, Gender::Masculine, &mut out);
            }
            out.push("uhr".into());
            if m > 0 {
                words(lang, m, Gender::Masculine, &mut out);
            }
        }
        Language::Uk => {
            words(lang, h, Gender::Feminine, &mut out);
            out.push(format!("hour-{}", form(lang, h)));
            if m > 0 {
                words(lang, m, Gender::Feminine, &mut out);
                out.push(format!("minute-{}", form(lang, m)));
            }
        }
    }
    Some(out)
}

/// Every fragment `number`, `amount` (in `currency`) and `time` can return in `lang`.
pub(crate) fn fragments(lang: Language, currency: Currency) -> Vec<String> {
    let mut all: Vec<String> = (0..20)
        .chain((2..10).map(|t| t * 10))
        .map(|n| format!("num-{n}"))
        .collect();
    all.push("minus".into());
    all.push(and_word(lang).into());
    let forms: &[&str] = match lang {
        Language::Uk => &["one", "few", "many"],
        _ => &["one", "many"],
    };
    for f in forms {
        all.push(format!("cur-{}-{f}", currency.code()));
        all.push(format!("sub-{}-{f}", currency.code()));
    }
    let extra: Vec<String> = match lang {
        Language::En => ["num-hundred", "num-thousand", "num-million", "oclock", "oh"]
            .map(String::from)
            .to_vec(),
        Language::De => [
            "num-ein",
            "num-hundert",
            "num-tausend",
            "num-eine-million",
            "num-millionen",
            "uhr",
        ]
        .into_iter()
        .map(String::from)
        .chain((1..10).map(|n| format!("num-{n}-und")))
        .collect(),
        Language::Uk => ["num-1-f", "num-2-f", "num-1-n"]
            .into_iter()
            .map(String::from)
            .chain((1..10).map(|n| format!("num-{}", n * 100)))
            .chain(forms.iter().flat_map(|f| {
                ["thousand", "million", "hour", "minute"].map(|w| format!("{w}-{f}"))
            }))
            .collect(),
    };
    all.extend(extra);
    all.sort();
    all.dedup();
    all
}

fn and_word(lang: Language) -> &'static str {
    match lang {
        Language::En | Language::Uk => "and",
        Language::De => "und",
    }
}

/// The plural form a count takes.
fn form(lang: Language, n: u64) -> &'static str {
    match lang {
        Language::En | Language::De => {
            if n == 1 {
                "one"
            } else {
                "many"
            }
        }
        Language::Uk => {
            let (ones, tens) = (n % 10, n % 100);
            if ones == 1 && tens != 11 {
                "one"
            } else if (2..=4).contains(&ones) && !(12..=14).contains(&tens) {
                "few"
            } else {
                "many"
            }
        }
    }
}

fn words(lang: Language, n: u64, gender: Gender, out: &mut Vec<String>) {
    match lang {
        Language::En => english(n, out),
        Language::De => german(n, false, out),
        Language::Uk => ukrainian(n, gender, out),
    }
}

fn english(n: u64, out: &mut Vec<String>) {
    if n == 0 {
        out.push("num-0".into());
        return;
    }
    for (scale, name) in [(1_000_000, "num-million"), (1_000, "num-thousand")] {
        if n >= scale {
            english(n / scale, out);
            out.push(name.into());
            if n.is_multiple_of(scale) {
                return;
            }
            return english(n % scale, out);
        }
    }
    english_below(n, out);
}

/// 1 ≤ n < 1000 (0 says nothing).
fn english_below(n: u64, out: &mut Vec<String>) {
    if n >= 100 {
        out.push(format!("num-{}", n / 100));
        out.push("num-hundred".into());
    }
    tens_and_units(n % 100, out);
}

fn tens_and_units(n: u64, out: &mut Vec<String>) {
    match n {
        0 => {}
        1..=19 => out.push(format!("num-{n}")),
        _ => {
            out.push(format!("num-{}", n / 10 * 10));
            if !n.is_multiple_of(10) {
                out.push(format!("num-{}", n % 10));
            }
        }
    }
}

/// German: "einhundertdreiundzwanzig" as ein + hundert + dreiund + zwanzig. `prefix` says 1 as
/// "ein" (before a scale word).
fn german(n: u64, prefix: bool, out: &mut Vec<String>) {
    if n == 0 {
        out.push("num-0".into());
        return;
    }
    if n >= 1_000_000 {
        let millions = n / 1_000_000;
        if millions == 1 {
            out.push("num-eine-million".into());
        } else {
            german(millions, true, out);
            out.push("num-millionen".into());
        }
        if !n.is_multiple_of(1_000_000) {
            german(n % 1_000_000, prefix, out);
        }
        return;
    }
    if n >= 1_000 {
        german(n / 1_000, true, out);
        out.push("num-tausend".into());
        if !n.is_multiple_of(1_000) {
            german(n % 1_000, prefix, out);
        }
        return;
    }
    if n >= 100 {
        if n / 100 == 1 {
            out.push("num-ein".into());
        } else {
            out.push(format!("num-{}", n / 100));
        }
        out.push("num-hundert".into());
    }
    match n % 100 {
        0 => {}
        1 if prefix => out.push("num-ein".into()),
        r @ 1..=19 => out.push(format!("num-{r}")),
        r => {
            if r % 10 > 0 {
                out.push(format!("num-{}-und", r % 10));
            }
            out.push(format!("num-{}", r / 10 * 10));
        }
    }
}

fn ukrainian(n: u64, gender: Gender, out: &mut Vec<String>) {
    if n == 0 {
        out.push("num-0".into());
        return;
    }
    for (scale, word, scale_gender) in [
        (1_000_000, "million", Gender::Masculine),
        (1_000, "thousand", Gender::Feminine),
    ] {
        if n >= scale {
            let count = n / scale;
            ukrainian_below(count, scale_gender, out);
            out.push(format!("{word}-{}", form(Language::Uk, count)));
            if !n.is_multiple_of(scale) {
                ukrainian(n % scale, gender, out);
            }
            return;
        }
    }
    ukrainian_below(n, gender, out);
}

fn ukrainian_below(n: u64, gender: Gender, out: &mut Vec<String>) {
    if n >= 100 {
        out.push(format!("num-{}", n / 100 * 100));
    }
    let r = n % 100;
    let (tens, ones) = if r < 20 {
        (0, r)
    } else {
        (r / 10 * 10, r % 10)
    };
    if tens > 0 {
        out.push(format!("num-{tens}"));
    }
    match (ones, gender) {
        (0, _) => {}
        (1, Gender::Feminine) => out.push("num-1-f".into()),
        (1, Gender::Neuter) => out.push("num-1-n".into()),
        (2, Gender::Feminine) => out.push("num-2-f".into()),
        (o, _) => out.push(format!("num-{o}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(lang: Language, n: &str) -> String {
        number(lang, n).unwrap().join(" ")
    }

    #[test]
    fn english_numbers() {
        assert_eq!(say(Language::En, "0"), "num-0");
        assert_eq!(say(Language::En, "115"), "num-1 num-hundred num-15");
        assert_eq!(
            say(Language::En, "-2042"),
            "minus num-2 num-thousand num-40 num-2"
        );
        assert_eq!(say(Language::En, "1000000"), "num-1 num-million");
        assert!(number(Language::En, "1000000000").is_none());
        assert!(number(Language::En, "12a").is_none());
    }

    #[test]
    fn german_numbers_put_units_before_tens() {
        assert_eq!(say(Language::De, "1"), "num-1");
        assert_eq!(say(Language::De, "21"), "num-1-und num-20");
        assert_eq!(say(Language::De, "101"), "num-ein num-hundert num-1");
        assert_eq!(
            say(Language::De, "1234"),
            "num-ein num-tausend num-2 num-hundert num-4-und num-30"
        );
        assert_eq!(say(Language::De, "2000000"), "num-2 num-millionen");
    }

    #[test]
    fn ukrainian_plural_forms_and_gender() {
        assert_eq!(say(Language::Uk, "21"), "num-20 num-1");
        assert_eq!(say(Language::Uk, "2000"), "num-2-f thousand-few");
        assert_eq!(say(Language::Uk, "11000"), "num-11 thousand-many");
        assert_eq!(say(Language::Uk, "1001"), "num-1-f thousand-one num-1");
        let hryvnias = amount(Language::Uk, Currency::Uah, "22.05")
            .unwrap()
            .join(" ");
        assert_eq!(
            hryvnias,
            "num-20 num-2-f cur-uah-few and num-5 sub-uah-many"
        );
    }

    #[test]
    fn amounts_and_times() {
        let a = |t| amount(Language::En, Currency::Eur, t).map(|v| v.join(" "));
        assert_eq!(
            a("12.5").unwrap(),
            "num-12 cur-eur-many and num-50 sub-eur-many"
        );
        assert_eq!(a("1").unwrap(), "num-1 cur-eur-one");
        assert_eq!(a("0,01").unwrap(), "num-1 sub-eur-one");
        assert_eq!(a("0").unwrap(), "num-0 cur-eur-many");
        assert!(a("1.234").is_none());
        let t = |l, t| time(l, t).map(|v| v.join(" "));
        assert_eq!(t(Language::En, "14:05").unwrap(), "num-14 oh num-5");
        assert_eq!(t(Language::En, "9:00").unwrap(), "num-9 oclock");
        assert_eq!(t(Language::De, "01:30").unwrap(), "num-ein uhr num-30");
        assert_eq!(
            t(Language::Uk, "21:02").unwrap(),
            "num-20 num-1-f hour-one num-2-f minute-few"
        );
        assert!(t(Language::En, "24:00").is_none());
    }

    #[test]
    fn every_fragment_said_is_listed() {
        for lang in [Language::En, Language::De, Language::Uk] {
            for currency in [Currency::Eur, Currency::Usd, Currency::Uah] {
                let all = fragments(lang, currency);
                let mut said = Vec::new();
                for n in (0..2_000).chain([21_000, 1_000_000, 2_345_678, MAX_NUMBER]) {
                    said.extend(number(lang, &n.to_string()).unwrap());
                    said.extend(amount(lang, currency, &format!("-{n}.{:02}", n % 100)).unwrap());
                }
                for h in 0..24 {
                    for m in 0..60 {
                        said.extend(time(lang, &format!("{h}:{m}")).unwrap());
                    }
                }
                for s in said {
                    assert!(all.contains(&s), "{lang:?} {currency:?}: {s} not listed");
                }
            }
        }
    }
}
