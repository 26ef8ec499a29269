//! The OpenAPI document against a live `ivrd serve`: the one it serves at `/openapi.json` is the
//! one kept in `docs/openapi.json` (regenerate with `IVRD_WRITE_OPENAPI=1 cargo test -p ivrd
//! --test openapi`), and schemathesis (PyPI, in `target/schemathesis-venv`, as `.ci/run`
//! installs it) finds no 5xx, no answer outside the document and no valid request refused, in
//! a bounded number of cases per operation, with the settings in `tests/schemathesis.toml`.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Command;

use common::{Ivrd, free_tcp_port, http, root};

const TOKEN: &str = "openapi-admin-token";
const MERCHANT: &str = "openapi-merchant-token";

#[test]
fn the_served_document_is_the_kept_one_and_schemathesis_finds_nothing() {
    let dir = std::env::temp_dir().join(format!("ivrd-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nadmin_token_env = \"IVRD_OPENAPI_ADMIN\"\n\n\
             [[merchants]]\nname = \"corner-shop\"\ntoken = \"{MERCHANT}\"\n"
        ),
    )
    .expect("config");
    let port = free_tcp_port();
    let _ivrd = Ivrd::start_admin(&config, port, ("IVRD_OPENAPI_ADMIN", TOKEN), &[]);
    let (status, served) = http("GET", port, "/openapi.json", &[], "");
    assert_eq!(status, 200);
    let kept = root().join("docs/openapi.json");
    if std::env::var_os("IVRD_WRITE_OPENAPI").is_some() {
        std::fs::write(&kept, &served).expect("write docs/openapi.json");
    }
    let text = std::fs::read_to_string(&kept).expect("docs/openapi.json");
    assert!(
        text == served,
        "docs/openapi.json is not the document ivrd serves: regenerate it with \
         IVRD_WRITE_OPENAPI=1 cargo test -p ivrd --test openapi"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");

    let st = root().join("target/schemathesis-venv/bin/schemathesis");
    if !st.exists() {
        let msg = "\n*** schemathesis missing (target/schemathesis-venv): the API fuzz did NOT run \
                   (see .ci/run) ***\n";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
        return;
    }
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(root().join("tests/schemathesis.toml"))
        .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
        .env("IVRD_ST_ADMIN", TOKEN)
        .env("IVRD_ST_MERCHANT", MERCHANT)
        .args(["--checks", "all", "--max-examples", "40", "--seed", "1"])
        .args(["--request-timeout", "10"])
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis:\n{text}");
    let operations = doc["paths"].as_object().map_or(0, |p| p.len());
    eprintln!(
        "schemathesis: {} paths; {}",
        operations,
        text.lines()
            .find(|l| l.contains("generated"))
            .unwrap_or_default()
            .trim()
    );
}
