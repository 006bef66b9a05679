#![recursion_limit = "512"]
use clap::Parser;
use server::cli::{Cli, run};
use std::process::ExitCode;

/// Reads `--config-file FILE` (or PORTAL_CONFIG_FILE) before clap sees the
/// environment, so the file's values can fill in flags' env defaults.
fn load_config_file() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--config-file=")
            .map(str::to_owned)
            .or_else(|| {
                (a == "--config-file")
                    .then(|| args.get(i + 1).cloned())
                    .flatten()
            })
    });
    let Some(path) = from_args.or_else(|| std::env::var("PORTAL_CONFIG_FILE").ok()) else {
        return Ok(());
    };
    dotenvy::from_path(&path).map_err(|e| format!("Could not read the config file {path}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(message) = load_config_file() {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    server::telemetry::init(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Our errors are written to be read: print the chain, not a backtrace.
            eprintln!("Error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  because: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
