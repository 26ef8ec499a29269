//! Loading what flows refer to (prompt names per language, CSV data sources) and the flow files
//! themselves, for `ivrd check` and `ivrd serve`. Every problem is collected, none stops the
//! others from being found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flow_engine::{Catalog, FlowSet, SourceFile};

use crate::serve::Config;

/// CSV tables keyed by one column, loaded once.
#[derive(Debug, Default)]
pub(crate) struct DataSources {
    tables: HashMap<String, Table>,
}

#[derive(Debug)]
struct Table {
    columns: Vec<String>,
    rows: HashMap<String, Vec<String>>,
}

impl DataSources {
    fn load(config: &Config, errors: &mut Vec<String>) -> Self {
        let mut tables = HashMap::new();
        for (name, source) in &config.data.0 {
            match read_table(&source.csv, &source.key) {
                Ok(table) => {
                    tables.insert(name.clone(), table);
                }
                Err(e) => errors.push(format!(
                    "data source `{name}` ({}): {e}",
                    source.csv.display()
                )),
            }
        }
        Self { tables }
    }

    /// The record whose key column equals `key`, as column → value.
    pub(crate) fn lookup(&self, source: &str, key: &str) -> Option<Vec<(String, String)>> {
        let table = self.tables.get(source)?;
        let row = table.rows.get(key)?;
        Some(
            table
                .columns
                .iter()
                .cloned()
                .zip(row.iter().cloned())
                .collect(),
        )
    }
}

fn read_table(path: &Path, key: &str) -> Result<Table, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    let k = columns
        .iter()
        .position(|c| c == key)
        .ok_or_else(|| format!("no column `{key}` (columns: {})", columns.join(", ")))?;
    let mut rows = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        let values: Vec<String> = record.iter().map(|v| v.trim().to_string()).collect();
        if let Some(value) = values.get(k) {
            rows.entry(value.clone()).or_insert(values);
        }
    }
    Ok(Table { columns, rows })
}

/// The prompt sets under `root`: each subdirectory is a language (`en/`, `de/`, …).
pub(crate) fn language_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries =
        std::fs::read_dir(root).map_err(|e| format!("prompt directory {}: {e}", root.display()))?;
    let mut dirs: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_string(), p)))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Prompt names (file stems) in each language's prompt set.
fn prompt_names(root: &Path, errors: &mut Vec<String>) -> HashMap<String, Vec<String>> {
    let dirs = language_dirs(root).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    });
    dirs.into_iter()
        .map(|(lang, dir)| {
            let names = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
                .collect();
            (lang, names)
        })
        .collect()
}

/// The flow files in `dir` (`*.toml`, not recursive).
fn read_flows(dir: &Path, errors: &mut Vec<String>) -> Vec<SourceFile> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(format!("flow directory {}: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut paths: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(SourceFile {
                name: name.to_string(),
                file: path.display().to_string(),
                text,
            }),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    files
}

/// Everything a running daemon needs from the flows.
pub(crate) struct Loaded {
    pub(crate) flows: FlowSet,
    pub(crate) data: DataSources,
    pub(crate) queues: call_control::QueueSet,
}

/// The queue file, compiled against the prompt sets; a missing file at the default path means
/// no queues.
fn load_queues(
    config: &Config,
    prompts: &HashMap<String, Vec<String>>,
    errors: &mut Vec<String>,
) -> call_control::QueueSet {
    let path = &config.queues.file;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !config.queues.required() => {
            return call_control::QueueSet::default();
        }
        Err(e) => {
            errors.push(format!("{}: {e}", path.display()));
            return call_control::QueueSet::default();
        }
    };
    let has_prompt = |lang: &str, name: &str| {
        prompts
            .get(lang)
            .is_some_and(|n| n.iter().any(|p| p == name))
    };
    match call_control::load_queues(&path.display().to_string(), &text, &has_prompt) {
        Ok(set) => set,
        Err(e) => {
            errors.extend(e.iter().map(ToString::to_string));
            call_control::QueueSet::default()
        }
    }
}

/// Loads data sources, prompt names and the flows in `dir`, and (with `routes`) checks that
/// every route names a flow. Either everything is valid or every error is returned.
pub(crate) fn load(config: &Config, dir: &Path, routes: bool) -> Result<Loaded, Vec<String>> {
    let mut errors = Vec::new();
    let data = DataSources::load(config, &mut errors);
    let mut catalog = Catalog::default();
    let prompts = prompt_names(&config.media.prompts, &mut errors);
    let queues = load_queues(config, &prompts, &mut errors);
    for name in queues.names() {
        catalog.add_queue(name);
    }
    for (lang, names) in prompts {
        catalog.add_prompts(&lang, names);
    }
    for (name, table) in &data.tables {
        catalog.add_source(name, table.columns.clone());
    }
    let files = read_flows(dir, &mut errors);
    let flows = match flow_engine::load(&files, &catalog) {
        Ok(flows) => Some(flows),
        Err(e) => {
            errors.extend(e.iter().map(ToString::to_string));
            None
        }
    };
    if let Some(flows) = flows.as_ref().filter(|_| routes) {
        let routes = std::iter::once(("default", &config.flows.default))
            .chain(config.flows.routes.iter().map(|(n, f)| (n.as_str(), f)));
        for (number, flow) in routes {
            if flows.find(flow).is_none() {
                errors.push(format!(
                    "flows.routes: `{number}` → no flow named `{flow}` in {}",
                    dir.display()
                ));
            }
        }
    }
    match flows {
        Some(flows) if errors.is_empty() => Ok(Loaded {
            flows,
            data,
            queues,
        }),
        _ => Err(errors),
    }
}
