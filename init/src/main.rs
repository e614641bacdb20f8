//! pine-init: placeholder until boot selection lands (issue 4). Built static (`make dist`) so the
//! image layout and the static link are proven now.

fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == "--version") {
        println!("pine-init {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("pine-init: error: deployment selection is not part of this build yet");
    std::process::ExitCode::FAILURE
}
