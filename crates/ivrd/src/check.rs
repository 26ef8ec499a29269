//! `ivrd check [DIR]`: loads the config, its prompts and data sources, and the flows in DIR
//! (default: the configured flow directory), and prints every error.

use std::path::Path;
use std::process::ExitCode;

use crate::serve::Config;

pub(crate) fn run(config_path: &Path, required: bool, dir: Option<&Path>) -> ExitCode {
    let config = match Config::load(config_path, required) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ivrd check: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let configured = config.flows.dir.clone();
    let dir = dir.unwrap_or(&configured);
    match crate::flows::load(&config, dir, dir == configured) {
        Ok(loaded) => {
            let names = loaded.flows.names();
            println!(
                "{}: {} flows OK: {}",
                dir.display(),
                names.len(),
                names.join(", ")
            );
            let queues = &loaded.queues;
            if !queues.queues.is_empty() {
                println!(
                    "{}: {} queues OK: {}; {} agents",
                    config.queues.file.display(),
                    queues.queues.len(),
                    queues.names().join(", "),
                    queues.agents.len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            eprintln!("ivrd check: {} errors in {}", errors.len(), dir.display());
            ExitCode::FAILURE
        }
    }
}
