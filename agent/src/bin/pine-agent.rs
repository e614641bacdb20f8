//! pine-agent: placeholder until the update engine lands (issue 3). It exists so that images built
//! today carry the binary at its final path, and it fails loudly instead of pretending to update.

fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == "--version") {
        println!("pine-agent {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("pine-agent: error: the update engine is not part of this build yet");
    std::process::ExitCode::FAILURE
}
