//! `ivrd check`: the shipped flows pass; the deliberately broken ones in
//! `config/flows/invalid/` fail with every error printed, each naming file, node and field.

use std::path::Path;
use std::process::Command;

fn check(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ivrd"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .arg("check")
        .args(args)
        .output()
        .expect("run ivrd check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn shipped_flows_pass() {
    let (ok, out) = check(&[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("7 flows OK: coupon, deflection, demo, dial, isp, notify, queue"),
        "{out}"
    );
    assert!(
        out.contains("config/queues.toml: 2 queues OK: sales, support; 2 agents"),
        "{out}"
    );
}

#[test]
fn broken_flows_report_every_error() {
    let (ok, out) = check(&["config/flows/invalid"]);
    assert!(!ok);
    let expected = [
        "config/flows/invalid/typo.toml: line 6: unknown field `barge_inn`",
        "config/flows/invalid/broken.toml: flow.timezone: time zone `Mars/Olympus_Mons`",
        "config/flows/invalid/broken.toml: node `menu`: choices.1: no node named `sales` in this flow",
        "config/flows/invalid/broken.toml: node `texting`: text: variable `secret_code` is never set",
        "config/flows/invalid/broken.toml: node `welcome`: prompts[1]: missing from the `en` prompt set: no-such-prompt",
        "config/flows/invalid/broken.toml: node `find`: source: no data source named `crm`",
        "config/flows/invalid/broken.toml: node `spin_b`: loops back to `spin_a`",
    ];
    for e in expected {
        assert!(
            out.lines().any(|l| l.starts_with(e)),
            "missing {e:?} in\n{out}"
        );
    }
    assert_eq!(out.lines().count(), 19, "{out}");
}

#[test]
fn serve_refuses_to_start_on_a_broken_flow() {
    let dir = std::env::temp_dir().join(format!("ivrd-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ivrd.toml");
    std::fs::write(
        &config,
        "[flows]\ndir = \"config/flows/invalid\"\ndefault = \"broken\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ivrd"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .expect("run ivrd serve");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refusing to start: 19 errors in the flows"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node `menu`: choices.1: no node named `sales`"),
        "{stderr}"
    );
}

#[test]
fn a_broken_queue_file_reports_every_error_with_its_place() {
    let dir = std::env::temp_dir().join(format!("ivrd-queues-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ivrd.toml");
    std::fs::write(&config, "[queues]\nfile = \"config/invalid/queues.toml\"\n").unwrap();
    let (ok, out) = check(&["--config", config.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok);
    let expected = [
        "config/invalid/queues.toml: queue `billing`: strategy: `fastest`: use one of ring-all,",
        "config/invalid/queues.toml: queue `billing`: languages.en.music[0]: missing from the `en` prompt set: elevator-music",
        "config/invalid/queues.toml: queue `billing`: exit_key: `00`: one key",
        "config/invalid/queues.toml: queue `billing`: max_wait_s: 2: must be 5 to 86400",
        "config/invalid/queues.toml: agent `carol`: contact: `carol@pbx`: an agent needs a sip: URI",
        "config/invalid/queues.toml: agent `carol`: queues.nowhere: no queue named `nowhere`",
        "config/flows/queue.toml: node `wait`: queue: no queue named `support`",
    ];
    for e in expected {
        assert!(
            out.lines().any(|l| l.starts_with(e)),
            "missing {e:?} in\n{out}"
        );
    }
    assert_eq!(out.lines().count(), expected.len(), "{out}");
}
