//! The input options every log-reading verb shares, and the read itself with its progress bar
//! and account on stderr.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pushtrace_devicelog::{
    ByteSize, ExtractLimit, Format, LocalClock, LogRead, LogReader, RecordFilter,
};
use pushtrace_model::terminal;

use crate::clock_args::ClockArgs;
use crate::progress::Bar;

#[derive(Args, Debug)]
pub struct InputArgs {
    /// A sysdiagnose (.tar.gz, .zip or folder), a .logarchive folder, or a text export
    /// (`log show` in any style, a Console.app copy, a forum digest, a unifiedlog_iterator
    /// JSONL/CSV export, an idevicesyslog or pymobiledevice3 capture, text or JSON; plain or
    /// .gz). `-` reads a text export from standard input.
    pub input: PathBuf,

    /// Read as this format instead of detecting it: sysdiagnose, logarchive, default, syslog,
    /// compact, json, ndjson, console, digest, unifiedlog-jsonl, unifiedlog-csv, idevicesyslog,
    /// pymobiledevice3, pymobiledevice3-json.
    #[arg(long, value_name = "FORMAT", value_parser = format_arg)]
    pub format: Option<Format>,

    #[command(flatten)]
    pub clock: ClockArgs,

    /// Stop at the first line that cannot be read instead of counting it as skipped.
    #[arg(long)]
    pub strict: bool,

    /// At most this much disk for extracting a sysdiagnose archive, e.g. 500M or 40G (K, M, G,
    /// T are powers of 1024). Default: the free space of the temporary directory (TMPDIR) less
    /// 1 GiB, at most 20 GiB.
    #[arg(long, value_name = "SIZE")]
    pub max_extract: Option<ByteSize>,

    /// Print no progress bar and no account of the read on stderr (diagnose still reports
    /// the lines of a pushes file it skipped).
    #[arg(long, short)]
    pub quiet: bool,

    /// The line said before the read, so the account after it does not repeat it.
    #[arg(skip)]
    announced: std::cell::RefCell<Option<String>>,
}

/// `--format`, with the name nearest a misspelt one.
fn format_arg(text: &str) -> Result<Format, String> {
    text.parse::<Format>().map_err(|why| {
        let hint = pushtrace_model::suggest::hint(text, Format::ALL.iter().map(|f| f.name()));
        format!("{why}{hint}")
    })
}

impl InputArgs {
    /// Reads the input with `filter` (and reader tuning from `tune`), saying on stderr what was
    /// detected before the read and what was read after it.
    pub fn read(
        &self,
        clock: LocalClock,
        filter: RecordFilter,
        tune: impl FnOnce(
            pushtrace_devicelog::LogReaderBuilder,
        ) -> pushtrace_devicelog::LogReaderBuilder,
    ) -> Result<LogRead> {
        let builder = LogReader::builder()
            .format(self.format)
            .clock(clock)
            .filter(filter)
            .strict(self.strict)
            .max_extract(
                self.max_extract
                    .map_or(ExtractLimit::FreeSpace, |s| ExtractLimit::Bytes(s.0)),
            );
        let reader = tune(builder).build();
        let mut bar = Bar::new(self.quiet || !io::stderr().is_terminal());
        let read = if self.input.as_os_str() == "-" {
            reader.read_stream("<stdin>", io::stdin(), &mut bar)?
        } else {
            // Say what was detected before a read that may take a while.
            let (format, detected) = reader.format_of(&self.input)?;
            if !self.quiet {
                let how = if detected { "detected" } else { "as given" };
                let line = format!("{}: {} ({how})", self.input.display(), format.describe());
                eprintln!("{}", terminal::escape_lines(&line));
                *self.announced.borrow_mut() = Some(line);
            }
            if format == Format::Sysdiagnose {
                crate::temp_cleanup::install()?;
            }
            reader.read_as(&self.input, format, detected, &mut bar)?
        };
        Ok(read)
    }

    /// The account of a finished read, unless `--quiet`; its first line is left out when it
    /// only repeats what was said before the read.
    pub fn report(&self, read: &pushtrace_devicelog::ReadSummary) {
        if self.quiet {
            return;
        }
        let text = read.to_string();
        let announced = self.announced.borrow();
        match text.split_once('\n') {
            Some((first, rest)) if announced.as_deref() == Some(first) => {
                eprint!("{}", terminal::escape_lines(rest));
            }
            _ => eprint!("{}", terminal::escape_lines(&text)),
        }
    }
}
