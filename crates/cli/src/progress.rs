//! Progress bars on stderr for long reads; silent when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pushtrace_devicelog::Progress;

/// Draws a byte-count bar per stage (extracting, reading).
pub struct Bar {
    bar: Option<ProgressBar>,
    stage: String,
    hidden: bool,
}

impl Bar {
    pub fn new(hidden: bool) -> Bar {
        Bar {
            bar: None,
            stage: String::new(),
            hidden,
        }
    }
}

impl Progress for Bar {
    fn begin(&mut self, stage: &str, total: Option<u64>) {
        if self.stage == stage
            && let Some(bar) = &self.bar
        {
            if let Some(total) = total
                && bar.length() != Some(total)
            {
                bar.set_length(total);
                bar.set_style(bytes_style());
            }
            return;
        }
        self.end();
        self.stage = stage.to_string();
        let target = if self.hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = match total {
            Some(total) => {
                ProgressBar::with_draw_target(Some(total), target).with_style(bytes_style())
            }
            None => ProgressBar::with_draw_target(None, target).with_style(spinner_style()),
        };
        bar.set_message(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn advance_to(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.stage.clear();
    }
}

/// A spinner with `message` and the time spent, on stderr (hidden when `hidden`), for a stage
/// whose size is not known.
pub fn spinner(hidden: bool, message: &'static str) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        .with_style(spinner_style());
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

pub fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}
