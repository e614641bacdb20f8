//! `pine-build`: the slim offline builder.
//!
//! The release path, one subcommand a step:
//! rootfs (dir or tarball, optionally a manifest) -> `commit` (OSTree layout, signed) ->
//! `delta` (self-contained static deltas) -> `publish` (signed feed + every delta it names).
//! Each step reads the output of the one before from the archive repo, never from our own side files.

mod commit;
mod delta;
mod keygen;
mod layout;
mod manifest;
mod progress;
mod publish;
mod repo;
mod source;
mod util;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pine-build",
    version,
    about = "Build Pine releases: rootfs -> signed OSTree commit -> static deltas -> signed feed"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write an ed25519 key pair: DIR/pine.key (secret, 0600) and DIR/pine.pub.
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Commit a root filesystem (directory or tarball) in the OSTree layout.
    Commit(commit::Args),
    /// Write one self-contained static delta file.
    Delta(delta::Args),
    /// Write or update the signed release feed and every delta it names.
    Publish(publish::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Keygen { out } => keygen::run(&out),
        Cmd::Commit(a) => commit::run(a),
        Cmd::Delta(a) => delta::run(a),
        Cmd::Publish(a) => publish::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context first, then its causes.
            eprintln!("pine-build: error: {}", util::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
