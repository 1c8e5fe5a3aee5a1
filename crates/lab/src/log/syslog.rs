//! `log show --style syslog`: `2026-05-20 17:45:59.562000+0300  localhost symptomsd[81]: …`, the
//! message after the `(sender) [subsystem:category]` the style prints.

use std::io::{self, Write};

use pushtrace_model::{Timestamp, UtcOffset};

use super::LogLine;

/// Writes `lines` (in time order) in the syslog style, in the zone `offset`; `app` is the app's
/// process name.
pub fn write_syslog(
    out: &mut impl Write,
    lines: &[LogLine],
    offset: UtcOffset,
    app: &str,
) -> io::Result<()> {
    writeln!(out, "Timestamp                       (process)[PID]")?;
    let mut text = String::with_capacity(256);
    for line in lines {
        text.clear();
        super::styles::tail(&mut text, &line.message);
        let at = Timestamp::new(line.at, offset).log_style();
        writeln!(
            out,
            "{at}  localhost {}[{}]: {text}",
            line.message.process(app),
            line.pid
        )?;
    }
    Ok(())
}
