//! Log noise: the lines of the chatty processes a real iPhone log is mostly made of, which the
//! catalogue does not read. A real log holds far more of them than of the push story (about
//! 70 % of the lines of `testdata/unifiedlog-macos-plaso.logarchive` are outside the push set,
//! `docs/lab.md`), and a diagnosis must find its events among them.

use super::{LogLine, Message};

/// One line a chatty process logs, with how `log show` places it.
#[derive(Debug, PartialEq)]
pub struct NoiseLine {
    pub process: &'static str,
    pub pid: u32,
    pub sender: Option<&'static str>,
    pub subsystem: (&'static str, &'static str),
    pub level: &'static str,
    pub text: &'static str,
}

const fn line(
    process: &'static str,
    pid: u32,
    subsystem: (&'static str, &'static str),
    text: &'static str,
) -> NoiseLine {
    NoiseLine {
        process,
        pid,
        sender: None,
        subsystem,
        level: "Default",
        text,
    }
}

/// The noise lines, drawn with equal weight. Worded after lines these processes log on iOS; none
/// holds a phrase a catalogue rule reads (a test checks it).
pub static NOISE: [NoiseLine; 16] = [
    line(
        "kernel",
        0,
        ("", ""),
        "AppleBCMWLANCore::setPowerSaveState(): Setting power save state to 1",
    ),
    line(
        "kernel",
        0,
        ("", ""),
        "Sandbox: MobileMail(312) deny(1) file-read-metadata /private/var/mobile/Library/Caches",
    ),
    line(
        "kernel",
        0,
        ("", ""),
        "memorystatus: set assertion priority(10) target MobileMail:312",
    ),
    line(
        "SpringBoard",
        34,
        ("com.apple.FrontBoard", "Common"),
        "[app<com.apple.mobilemail>:312] Workspace assertion state did change: BackgroundRunningNonUI",
    ),
    line(
        "SpringBoard",
        34,
        ("com.apple.SpringBoard", "Icon"),
        "Badge value for com.apple.mobilemail changed to 3",
    ),
    line(
        "runningboardd",
        31,
        ("com.apple.runningboard", "assertion"),
        "Acquiring assertion targeting [app<com.apple.mobilemail>:312] from originator \
         [daemon<com.apple.SpringBoard>:34] with description <RBSAssertionDescriptor| \
         \"FBWorkspace (ProcessLaunch)\" ID:31-34-5677 target:312>",
    ),
    line(
        "runningboardd",
        31,
        ("com.apple.runningboard", "process"),
        "[app<com.apple.mobilemail>:312] Ignoring jetsam update because this process is not \
         memory-managed",
    ),
    line(
        "wifid",
        45,
        ("com.apple.WiFiManager", ""),
        "__WiFiLQAMgrLogStats: Rssi: -64 Snr: 31 Cca: 12 TxFrames: 118 TxFail: 0",
    ),
    line(
        "wifid",
        45,
        ("com.apple.WiFiManager", ""),
        "WiFiDeviceManagerGetNetworkChannel: channel 36 band 5GHz",
    ),
    line(
        "locationd",
        80,
        ("com.apple.locationd.Core", "Client"),
        "{\"msg\":\"client authorization\", \"client\":\"com.apple.weather\", \"status\":4}",
    ),
    line(
        "locationd",
        80,
        ("com.apple.locationd.Position", "Position"),
        "@ClxWifi, Fix, 1, ll, horizontal accuracy 65.0, motion 1",
    ),
    line(
        "bluetoothd",
        92,
        ("com.apple.bluetooth", "Server.LE.Scan"),
        "Scan parameters: window 30 ms interval 300 ms, duplicate filter on",
    ),
    line(
        "mediaserverd",
        57,
        ("com.apple.coremedia", ""),
        "FigAudioSession: session 0x3a2 category AVAudioSessionCategoryAmbient, active NO",
    ),
    line(
        "dasd",
        96,
        ("com.apple.duetactivityscheduler", "scoring"),
        "com.apple.photoanalysisd.backgroundanalysis:8F2E1A: score 0.31 below threshold 0.60",
    ),
    line(
        "trustd",
        120,
        ("com.apple.securityd", "ocsp"),
        "OCSP response cached for 17 certificates, next update in 86400 s",
    ),
    line(
        "backboardd",
        66,
        ("com.apple.backboard", "brightness"),
        "Brightness curve: lux 140 nits 212.4 auto-brightness on",
    ),
];

/// The line a device's log ends with at the window's end (trustd's, which says nothing of
/// the phone's state): a log taken then has its busy processes' lines up to that moment.
pub fn closing_line() -> &'static NoiseLine {
    &NOISE[14]
}

/// Mixes noise into `lines` (in time order) so that it makes `share` of the result (0 to 1,
/// below 1), with a random stream of its own: the same seed gives the same log, and the
/// simulation's stream is untouched. The noise falls between the first and the last line, so
/// the log covers the same span with or without it (`diagnose` reads what a log covers).
pub fn with_noise(lines: Vec<LogLine>, share: f64, seed: u64, device: &str) -> Vec<LogLine> {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return lines;
    };
    let (start, end) = (first.at, last.at + 1);
    if share <= 0.0 {
        return lines;
    }
    // FNV-1a of the device id: a stream per device, independent of thread order.
    let id = device.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = fastrand::Rng::with_seed(seed ^ id ^ 0x6e6f_6973_6521);
    let count = (lines.len() as f64 * share / (1.0 - share)).round() as usize;
    let mut noise: Vec<LogLine> = (0..count)
        .map(|_| {
            let pick = &NOISE[rng.usize(..NOISE.len())];
            LogLine {
                at: rng.i64(start..end),
                pid: pick.pid,
                message: Message::Noise(pick),
            }
        })
        .collect();
    noise.sort_by_key(|l| l.at);
    let mut out = Vec::with_capacity(lines.len() + noise.len());
    let mut noise = noise.into_iter().peekable();
    for line in lines {
        while let Some(n) = noise.next_if(|n| n.at < line.at) {
            out.push(n);
        }
        out.push(line);
    }
    out.extend(noise);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_makes_its_share_and_keeps_the_lines_in_order() {
        let lines: Vec<LogLine> = (0..300)
            .map(|i| LogLine {
                at: i * 1_000_000,
                pid: 112,
                message: Message::ActivityUpdate,
            })
            .collect();
        let mixed = with_noise(lines.clone(), 0.69, 7, "lab-000001");
        let noise = mixed
            .iter()
            .filter(|l| matches!(l.message, Message::Noise(_)))
            .count();
        assert_eq!(noise, 668);
        assert!(mixed.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!((mixed[0].at, mixed.last().unwrap().at), (0, 299_000_000));
        let kept: Vec<&LogLine> = mixed
            .iter()
            .filter(|l| !matches!(l.message, Message::Noise(_)))
            .collect();
        assert_eq!(kept, lines.iter().collect::<Vec<_>>());
        assert_eq!(mixed, with_noise(lines.clone(), 0.69, 7, "lab-000001"));
        assert_eq!(with_noise(lines.clone(), 0.0, 7, "x"), lines);
    }
}
