//! A flow file (first half of the input after a NUL: a second file in the same set) and a queue
//! file (after a second NUL) as an operator might write them: parsed and compiled, with every
//! error reported by location, never a panic.
#![no_main]

use flow_engine::{Catalog, SourceFile, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    let queues = parts.next();
    let mut catalog = Catalog::default();
    catalog.add_prompts("en", ["welcome", "goodbye", "menu", "invalid"]);
    catalog.add_source("customers", vec!["name".into(), "balance".into()]);
    catalog.add_queue("support");
    let mut files = vec![SourceFile {
        name: "main".into(),
        file: "main.toml".into(),
        text: first.into(),
    }];
    if let Some(second) = second {
        files.push(SourceFile {
            name: "other".into(),
            file: "other.toml".into(),
            text: second.into(),
        });
    }
    if let Err(errors) = load(&files, &catalog) {
        assert!(!errors.is_empty(), "an error without a problem");
        for e in &errors {
            let _ = e.to_string();
        }
    }
    if let Some(queues) = queues {
        let has_prompt = |language: &str, name: &str| language == "en" && name != "missing";
        if let Err(errors) = call_control::load_queues("queues.toml", queues, &has_prompt) {
            assert!(!errors.is_empty(), "an error without a problem");
        }
    }
});
