//! The deliberately broken flows in `config/flows/invalid/`: every error is reported at once,
//! each naming its file, node and field.

mod support;

use flow_engine::SourceFile;

fn errors(name: &str) -> Vec<String> {
    let path = support::root()
        .join("config/flows/invalid")
        .join(format!("{name}.toml"));
    let file = SourceFile {
        name: name.into(),
        file: format!("{name}.toml"),
        text: std::fs::read_to_string(path).unwrap(),
    };
    match flow_engine::load(&[file], &support::catalog()) {
        Ok(_) => panic!("{name} compiled"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_error_of_a_broken_flow_is_reported() {
    let got = errors("broken");
    let expected = [
        "broken.toml: flow.timezone: time zone `Mars/Olympus_Mons`",
        "broken.toml: node `welcome`: prompts[1]: missing from the `en` prompt set: no-such-prompt",
        "broken.toml: node `welcome`: prompts[0]: missing from the `fr` prompt set: welcome",
        "broken.toml: node `menu`: choices.1: no node named `sales` in this flow",
        "broken.toml: node `menu`: choices.x: `x` is not a key sequence (0-9, *, #, A-D)",
        "broken.toml: node `menu`: greeting[0]: missing from the `fr` prompt set: main-menu",
        "broken.toml: node `menu`: timeout_ms: 120000 is outside 500..=60000",
        "broken.toml: node `texting`: text: variable `secret_code` is never set",
        "broken.toml: node `check`: cases[0].when: one operator per condition",
        "broken.toml: node `check`: else: no node named `elsewhere` in this flow",
        "broken.toml: node `find`: source: no data source named `crm`",
        "broken.toml: node `away`: flow: no flow named `nowhere`",
        "broken.toml: node `spin_b`: loops back to `spin_a` without playing or waiting for anything",
        "broken.toml: node `agent`: to[0]: `tel:+15551234567` is not a sip: URI (numbers need a trunk)",
        "broken.toml: node `agent`: mode: `round_robin`: use sequential or simultaneous",
        "broken.toml: node `agent`: ring_timeout_s: 0 is outside 1..=300",
        "broken.toml: node `agent`: no_answer: no node named `nobody` in this flow",
    ];
    for e in expected {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.len(), expected.len() + 1, "{}", got.join("\n")); // + the fr half of no-such-prompt
}

#[test]
fn a_misspelt_field_is_a_syntax_error_with_its_line() {
    let got = errors("typo");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("typo.toml: line 6: unknown field `barge_inn`"),
        "{}",
        got[0]
    );
}
