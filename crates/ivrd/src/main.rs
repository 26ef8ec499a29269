//! `ivrd`: the telephony engine's daemon and tools. Until `serve` lands, the main job is
//! `ivrd dtmf decode`.

mod audio_file;
mod clock;
mod dtmf_cmd;

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
    /// DTMF tools: decode files, benchmark the detector.
    Dtmf {
        #[command(subcommand)]
        command: DtmfCommand,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
