//! Progress on a terminal, silence elsewhere (logs and CI stay clean).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

pub struct Step(Option<ProgressBar>);

impl Step {
    pub fn start(msg: impl Into<String>) -> Step {
        if !std::io::stderr().is_terminal() {
            return Step(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.into());
        pb.enable_steady_tick(Duration::from_millis(120));
        Step(Some(pb))
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Warnings go to stderr, one line each, whatever the terminal.
pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("pine-build: warning: {msg}");
}
