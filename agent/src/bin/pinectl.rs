//! pinectl: placeholder until the control surface lands (issue 5).

fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == "--version") {
        println!("pinectl {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("pinectl: error: the control surface is not part of this build yet");
    std::process::ExitCode::FAILURE
}
