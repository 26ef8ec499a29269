//! `ivrd`: the telephony engine's daemon (`ivrd serve`) and tools (`ivrd dtmf …`).

mod audio_file;
mod cdr;
mod check;
mod clock;
mod dtmf_cmd;
mod flows;
mod http;
mod meters;
mod push_log;
mod serve;
mod sms;
mod tickets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ivrd", version, about = "ivrd telephony engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Answer calls: SIP on UDP and TCP, each dialled number routed to a flow.
    Serve {
        /// Daemon configuration; a missing file at the default path means embedded defaults.
        #[arg(long, default_value = "config/ivrd.toml")]
        config: PathBuf,
        /// Override `sip.listen`, e.g. 127.0.0.1:5080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Override the RTP port range, e.g. 40000-40999.
        #[arg(long, value_parser = parse_range)]
        rtp_ports: Option<(u16, u16)>,
        /// Override `http.listen` (receipts, inbound SMS, coupons); port 0 picks a free one.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// Override the directory of the SMS store and the file provider's output (`var`).
        #[arg(long)]
        var: Option<PathBuf>,
        /// `text` (default) or `json`: one JSON object per line, for log shippers.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
    },
    /// Check the flows (and the prompts and data they use) without starting; every error is
    /// printed with its file, node and field.
    Check {
        /// Daemon configuration (prompt directory, data sources, routes).
        #[arg(long, default_value = "config/ivrd.toml")]
        config: PathBuf,
        /// Flow directory; default: `flows.dir` from the configuration.
        dir: Option<PathBuf>,
    },
    /// Call detail records.
    Cdr {
        #[command(subcommand)]
        command: CdrCommand,
    },
    /// DTMF tools: decode files, benchmark the detector.
    Dtmf {
        #[command(subcommand)]
        command: DtmfCommand,
    },
}

#[derive(Subcommand)]
enum CdrCommand {
    /// Print the records of legs that started in `[since, until)`, oldest first.
    Export {
        /// The daemon's SQLite file.
        #[arg(long, default_value = "var/ivrd.sqlite")]
        store: PathBuf,
        /// Unix milliseconds or an RFC 3339 time; default: the beginning.
        #[arg(long)]
        since: Option<String>,
        /// Unix milliseconds or an RFC 3339 time; default: now and on.
        #[arg(long)]
        until: Option<String>,
        /// `jsonl` (one JSON object per line) or `csv`.
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Subcommand)]
enum DtmfCommand {
    /// Decode DTMF digits from audio files (WAV PCM/µ-law/A-law, MP3, FLAC, Ogg; any rate; each
    /// channel separately).
    Decode {
        /// Print one JSON object per digit per line.
        #[arg(long)]
        json: bool,
        /// Files to decode.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Measure detector throughput on generated audio, single channel and bank.
    Bench {
        /// Channels in the bank run.
        #[arg(long, default_value_t = 256)]
        channels: usize,
        /// Seconds of audio per channel.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Print one JSON object per path.
        #[arg(long)]
        json: bool,
    },
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or("expected MIN-MAX")?;
    let a: u16 = a.trim().parse().map_err(|e| format!("{a}: {e}"))?;
    let b: u16 = b.trim().parse().map_err(|e| format!("{b}: {e}"))?;
    if a >= b {
        return Err("MIN must be below MAX".into());
    }
    Ok((a, b))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            rtp_ports,
            http,
            var,
            log_format,
        } => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match log_format.as_str() {
                "json" => logs.json().flatten_event(true).init(),
                _ => logs
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .init(),
            }
            let required = config != std::path::Path::new("config/ivrd.toml");
            let overrides = serve::Overrides {
                listen,
                rtp_ports,
                http,
                var,
            };
            match serve::run(&config, required, overrides) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("ivrd: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config, dir } => {
            let required = config != std::path::Path::new("config/ivrd.toml");
            check::run(&config, required, dir.as_deref())
        }
        Command::Cdr {
            command:
                CdrCommand::Export {
                    store,
                    since,
                    until,
                    format,
                },
        } => {
            let bound = |v: Option<String>, default| v.map_or(Ok(default), |t| cdr::parse_time(&t));
            let csv = match format.as_str() {
                "csv" => Ok(true),
                "jsonl" => Ok(false),
                other => Err(format!("--format {other}: use jsonl or csv")),
            };
            let run = || -> anyhow::Result<()> {
                let since = bound(since, i64::MIN).map_err(anyhow::Error::msg)?;
                let until = bound(until, i64::MAX).map_err(anyhow::Error::msg)?;
                cdr::export(&store, since, until, csv.map_err(anyhow::Error::msg)?)
            };
            match run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ivrd cdr export: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Dtmf { command } => match command {
            DtmfCommand::Decode { json, files } => dtmf_cmd::decode(&files, json),
            DtmfCommand::Bench {
                channels,
                seconds,
                json,
            } => dtmf_cmd::bench(channels, seconds, json),
        },
    }
}
