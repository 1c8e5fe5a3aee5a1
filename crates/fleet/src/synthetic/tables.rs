//! The shares the synthetic fleet draws from, with where each figure comes from.
//!
//! Each table is public so that tests (and readers of a benchmark) can compare what was
//! generated with what was configured. Shares need not sum to 1: they are weights, normalized
//! when a sampler is built. Where a figure is an assumption it says so; where it comes from a
//! public page the page and the figure's date are given.
//!
//! Sources (as read on 2026-05, the pages' own dates in brackets):
//! - iOS majors: Apple's App Store figures, "66% of all iPhones are running iOS 26" for devices
//!   that transacted on 2026-02-12, reported by MacRumors and relayed by
//!   <https://www.mactech.com/2026/02/13/seventy-four-percent-of-all-iphones-introduced-in-the-last-four-years-are-running-ios-26/>
//!   [2026-02-13]; a later Apple figure, 79 % iOS 26 / 14 % iOS 18 / 7 % older,
//!   <https://technave.com/gadget/79-iPhone-users-are-on-iOS-26-46830.html> [2026, undated].
//!   Minor-version splits inside a major are an assumption shaped on TelemetryDeck's published
//!   minor splits (e.g. iOS 16.3/16.2/16.1/16.0 at 31/25/26/17 % two months after 16.3,
//!   <https://telemetrydeck.com/blog/ios16-market-share-03-23/> [2023-02-28]).
//! - iPhone models: TelemetryDeck's model shares as quoted by
//!   <https://www.accio.com/business/iphone-sales-numbers-by-model-trend> [2025-08: iPhone 13
//!   16.0 %, iPhone 14, 15, 15 Pro, 15 Pro Max about 10 % each] and
//!   <https://www.accio.com/business/iphone_sales_trend> [2025-05: iPhone 13 16.7 %, iPhone 11,
//!   14, 15 and Pro models about 10 % each]. The split of the rest (iPhone 16 and 17 families,
//!   older models) is an assumption from the 2025 sales rankings on the same pages (iPhone 16
//!   the best-selling phone of Q1 2025).
//! - Carriers, United States: retail wireless connections at the end of Q3 2025, Verizon
//!   146.1 M, T-Mobile 139.9 M, AT&T about 119 M,
//!   <https://www.digitalsegment.com/?p=3156> and <http://www.seemyphone.com/news/130658.html>
//!   [2025-11].
//! - Carriers, India: TRAI wireless subscriber shares on 2023-02-28, Jio 37.41 %, Airtel
//!   32.39 %, Vi 20.84 %, the rest (BSNL, MTNL) 9.4 %,
//!   <https://www.bqprime.com/business/jio-airtel-splitting-vis-exiting-users-equally-among-themselves>
//!   [2023-05-11].
//! - Carriers, every other country: **assumption**, rounded from the operators' and
//!   regulators' subscriber counts as commonly reported for 2024–2025; good enough for a
//!   fleet's shape (three or four carriers, one leading), not to be quoted as market data.
//! - Regions (the user base of a calling app), the diurnal call curve, the wifi share by hour,
//!   the 5G share per country, app-update lags, outcome and latency rates: **assumptions**,
//!   stated at each table; outcome rates follow the brief of the benchmark (APNs 200 for
//!   98–99 %, lossy receipts 2–5 %).

/// A country of the user base: ISO code, weight in the user base, standard UTC offset in
/// minutes (DST is ignored: one offset per country, the most populous zone's), share of
/// cellular time on 5G, share of 5G that is standalone, and how much more the users of the
/// country are on cellular than the fleet's average (added to the wifi probability).
pub struct Region {
    pub code: &'static str,
    pub weight: f64,
    pub utc_offset_minutes: i32,
    pub five_g: f64,
    pub five_g_standalone: f64,
    pub wifi_bias: f64,
    pub carriers: &'static [(&'static str, f64)],
}

/// The user base over 15 countries (assumption: a US-led calling app with a European,
/// Indian, Latin American, Middle Eastern and Asia-Pacific following).
pub const REGIONS: &[Region] = &[
    Region {
        code: "US",
        weight: 30.0,
        utc_offset_minutes: -300,
        five_g: 0.65,
        five_g_standalone: 0.4,
        wifi_bias: 0.0,
        carriers: &[("Verizon", 146.1), ("T-Mobile", 139.9), ("AT&T", 119.0)],
    },
    Region {
        code: "GB",
        weight: 8.0,
        utc_offset_minutes: 0,
        five_g: 0.45,
        five_g_standalone: 0.1,
        wifi_bias: 0.05,
        carriers: &[
            ("EE", 30.0),
            ("O2", 30.0),
            ("Vodafone", 22.0),
            ("Three", 18.0),
        ],
    },
    Region {
        code: "DE",
        weight: 7.0,
        utc_offset_minutes: 60,
        five_g: 0.45,
        five_g_standalone: 0.1,
        wifi_bias: 0.05,
        carriers: &[
            ("Telekom", 36.0),
            ("Vodafone", 30.0),
            ("O2", 29.0),
            ("1&1", 5.0),
        ],
    },
    Region {
        code: "FR",
        weight: 6.0,
        utc_offset_minutes: 60,
        five_g: 0.4,
        five_g_standalone: 0.05,
        wifi_bias: 0.05,
        carriers: &[
            ("Orange", 38.0),
            ("SFR", 26.0),
            ("Bouygues Telecom", 20.0),
            ("Free Mobile", 16.0),
        ],
    },
    Region {
        code: "IN",
        weight: 8.0,
        utc_offset_minutes: 330,
        five_g: 0.55,
        five_g_standalone: 0.6,
        wifi_bias: -0.2,
        carriers: &[
            ("Jio", 37.41),
            ("Airtel", 32.39),
            ("Vi", 20.84),
            ("BSNL", 9.36),
        ],
    },
    Region {
        code: "BR",
        weight: 5.0,
        utc_offset_minutes: -180,
        five_g: 0.3,
        five_g_standalone: 0.3,
        wifi_bias: -0.1,
        carriers: &[
            ("Vivo", 39.0),
            ("Claro", 33.0),
            ("TIM", 24.0),
            ("Algar", 4.0),
        ],
    },
    Region {
        code: "MX",
        weight: 4.0,
        utc_offset_minutes: -360,
        five_g: 0.2,
        five_g_standalone: 0.0,
        wifi_bias: -0.1,
        carriers: &[
            ("Telcel", 62.0),
            ("AT&T", 16.0),
            ("Movistar", 14.0),
            ("Bait", 8.0),
        ],
    },
    Region {
        code: "TR",
        weight: 5.0,
        utc_offset_minutes: 180,
        five_g: 0.05,
        five_g_standalone: 0.0,
        wifi_bias: 0.0,
        carriers: &[
            ("Turkcell", 42.0),
            ("Vodafone", 31.0),
            ("Türk Telekom", 27.0),
        ],
    },
    Region {
        code: "SA",
        weight: 4.0,
        utc_offset_minutes: 180,
        five_g: 0.55,
        five_g_standalone: 0.1,
        wifi_bias: -0.05,
        carriers: &[("stc", 50.0), ("Mobily", 30.0), ("Zain", 20.0)],
    },
    Region {
        code: "AE",
        weight: 3.0,
        utc_offset_minutes: 240,
        five_g: 0.6,
        five_g_standalone: 0.1,
        wifi_bias: 0.0,
        carriers: &[("e&", 60.0), ("du", 40.0)],
    },
    Region {
        code: "ES",
        weight: 4.0,
        utc_offset_minutes: 60,
        five_g: 0.35,
        five_g_standalone: 0.05,
        wifi_bias: 0.0,
        carriers: &[
            ("MasOrange", 42.0),
            ("Movistar", 27.0),
            ("Vodafone", 18.0),
            ("Digi", 13.0),
        ],
    },
    Region {
        code: "IT",
        weight: 4.0,
        utc_offset_minutes: 60,
        five_g: 0.35,
        five_g_standalone: 0.05,
        wifi_bias: 0.0,
        carriers: &[
            ("TIM", 28.0),
            ("Vodafone", 26.0),
            ("WindTre", 25.0),
            ("Iliad", 15.0),
        ],
    },
    Region {
        code: "JP",
        weight: 4.0,
        utc_offset_minutes: 540,
        five_g: 0.45,
        five_g_standalone: 0.05,
        wifi_bias: -0.05,
        carriers: &[
            ("NTT docomo", 42.0),
            ("au", 30.0),
            ("SoftBank", 23.0),
            ("Rakuten Mobile", 5.0),
        ],
    },
    Region {
        code: "CA",
        weight: 4.0,
        utc_offset_minutes: -300,
        five_g: 0.45,
        five_g_standalone: 0.05,
        wifi_bias: 0.05,
        carriers: &[
            ("Rogers", 33.0),
            ("Bell", 28.0),
            ("Telus", 28.0),
            ("Freedom", 11.0),
        ],
    },
    Region {
        code: "AU",
        weight: 4.0,
        utc_offset_minutes: 600,
        five_g: 0.5,
        five_g_standalone: 0.1,
        wifi_bias: 0.0,
        carriers: &[("Telstra", 43.0), ("Optus", 30.0), ("Vodafone", 27.0)],
    },
];

/// An iPhone model: name as a server would record it (from the device's machine identifier),
/// weight in the installed base, and the last iOS major it can run.
pub struct Model {
    pub name: &'static str,
    pub weight: f64,
    pub max_major: u8,
}

/// iPhone models in use (see the module's sources; the iPhone 13 figure is TelemetryDeck's).
pub const MODELS: &[Model] = &[
    Model {
        name: "iPhone 13",
        weight: 16.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 11",
        weight: 8.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 12",
        weight: 6.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 14",
        weight: 9.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 14 Pro",
        weight: 3.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 14 Pro Max",
        weight: 4.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 15",
        weight: 8.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 15 Pro",
        weight: 6.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 15 Pro Max",
        weight: 7.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 16",
        weight: 7.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 16 Pro",
        weight: 5.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 16 Pro Max",
        weight: 6.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 16e",
        weight: 1.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 13 Pro",
        weight: 2.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 13 Pro Max",
        weight: 2.5,
        max_major: 26,
    },
    Model {
        name: "iPhone SE (3rd generation)",
        weight: 1.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 17",
        weight: 2.0,
        max_major: 26,
    },
    Model {
        name: "iPhone 17 Pro",
        weight: 1.5,
        max_major: 26,
    },
    Model {
        name: "iPhone 17 Pro Max",
        weight: 2.0,
        max_major: 26,
    },
    Model {
        name: "iPhone Air",
        weight: 0.5,
        max_major: 26,
    },
    Model {
        name: "iPhone XR",
        weight: 1.5,
        max_major: 18,
    },
    Model {
        name: "iPhone X",
        weight: 0.7,
        max_major: 16,
    },
    Model {
        name: "iPhone 8",
        weight: 0.8,
        max_major: 16,
    },
    Model {
        name: "iPhone 7",
        weight: 0.5,
        max_major: 15,
    },
];

/// iOS versions on day 0 for a device that can run iOS 26: the major split is Apple's
/// February 2026 figure (66 % iOS 26 of all iPhones; more among the models that can run it),
/// the minor split an assumption (see the module's sources).
pub const OS_VERSIONS: &[(&str, f64)] = &[
    ("26.3", 30.0),
    ("26.2.1", 18.0),
    ("26.2", 10.0),
    ("26.1", 8.0),
    ("26.0.1", 4.0),
    ("18.7.5", 10.0),
    ("18.7.2", 4.0),
    ("18.6.2", 4.0),
    ("18.5", 2.0),
    ("17.7.2", 4.0),
    ("17.6.1", 1.5),
];

/// The version a device stays on when its model cannot run more, by last major.
pub const OS_CAPPED: &[(u8, &str)] = &[(18, "18.7.5"), (16, "16.7.12"), (15, "15.8.4")];

/// Minor iOS releases that roll out during the fleet's window whatever the effects (version,
/// first day, days to reach its share, share of the devices on the same major): without them
/// os_version would only change where an effect plants it, which no real fleet looks like.
/// Assumption, shaped on TelemetryDeck's "after one day more than a quarter" and the weeks a
/// point release takes to become the most used.
pub const OS_RELEASES: &[(&str, u32, u32, f64)] = &[("26.3.1", 8, 14, 0.55), ("26.4", 24, 21, 0.6)];

/// The app's releases: one every `APP_RELEASE_EVERY_DAYS`, the first `APP_RELEASES_BEFORE`
/// releases before day 0 (so the fleet starts with a spread of versions). Assumption.
pub const APP_RELEASE_EVERY_DAYS: u32 = 14;
pub const APP_RELEASES_BEFORE: u32 = 4;
/// The first release's minor number: versions read `7.<minor>.0`.
pub const APP_FIRST_MINOR: u32 = 17;
/// Share of devices with automatic app updates, and the mean delay (days) of the two kinds
/// of users after a release. Assumption.
pub const APP_AUTO_UPDATE_SHARE: f64 = 0.65;
pub const APP_AUTO_UPDATE_MEAN_DAYS: f64 = 1.5;
pub const APP_MANUAL_UPDATE_MEAN_DAYS: f64 = 18.0;

/// Calls by local hour of day (relative weights; assumption: the usual voice-traffic curve,
/// a night trough, a morning rise, a plateau through the day and an evening peak at 19–20 h).
pub const DIURNAL: [f64; 24] = [
    0.8, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.8, 3.0, 4.0, 4.5, 4.6, 4.4, 4.3, 4.2, 4.3, 4.6, 5.0, 5.4,
    5.6, 5.2, 4.2, 2.8, 1.6,
];

/// Probability a device is on wifi by local hour (assumption: home at night and in the
/// evening, commuting in the morning and the late afternoon, office wifi in the day).
pub const WIFI_BY_HOUR: [f64; 24] = [
    0.85, 0.86, 0.87, 0.87, 0.86, 0.8, 0.7, 0.5, 0.45, 0.55, 0.62, 0.62, 0.58, 0.6, 0.62, 0.6,
    0.55, 0.48, 0.55, 0.68, 0.75, 0.8, 0.83, 0.85,
];

/// Calls by day of week, Monday first (assumption: a slightly busier end of the working week,
/// a quieter weekend).
pub const WEEKDAY: [f64; 7] = [1.0, 1.0, 1.0, 1.02, 1.05, 0.9, 0.85];

/// Per-push outcome rates (assumptions within the ranges of the brief).
pub mod rates {
    /// Pushes the server never got an answer for (connection reset, timeout).
    pub const NOT_SENT: f64 = 0.0025;
    /// APNs 503 ServiceUnavailable and 500 InternalServerError.
    pub const SERVICE_UNAVAILABLE: f64 = 0.0004;
    pub const INTERNAL_SERVER_ERROR: f64 = 0.0002;
    /// Devices whose app is deleted at some point (410 Unregistered from then on), and the
    /// window (days before day 0) in which a deletion may already have happened.
    pub const UNREGISTERED_DEVICES: f64 = 0.012;
    pub const UNREGISTERED_BEFORE_DAYS: f64 = 60.0;
    /// Devices with a token of the other APNs environment (400 BadDeviceToken, always).
    pub const BAD_TOKEN_DEVICES: f64 = 0.0015;
    /// Of the accepted pushes: no receipt ever (lossy receipts: the app was killed, the
    /// receipt request failed) and late (stored by APNs, delivered when the phone woke).
    pub const NO_RECEIPT: f64 = 0.035;
    pub const LATE: f64 = 0.006;
    /// Of the accepted on-time pushes: a phone in deep sleep that takes seconds.
    pub const SLOW: f64 = 0.02;
    /// Median latency (ms) by interface / radio and the log-normal sigma.
    pub const MEDIAN_MS_WIFI: f64 = 200.0;
    pub const MEDIAN_MS_5G: f64 = 280.0;
    pub const MEDIAN_MS_LTE: f64 = 380.0;
    pub const MEDIAN_MS_HSPA: f64 = 900.0;
    pub const SIGMA: f64 = 0.75;
    /// Mean extra seconds of a slow delivery.
    pub const SLOW_MEAN_S: f64 = 4.0;
    /// Late deliveries: median minutes after the deadline and log-normal sigma.
    pub const LATE_MEDIAN_MIN: f64 = 8.0;
    pub const LATE_SIGMA: f64 = 1.6;
    /// The server retries a push without a receipt within a few seconds, up to twice.
    pub const RETRY_PROBABILITY: f64 = 0.6;
    /// Noisy phones: so many devices fail on their own at this rate.
    pub const NOISY_DEVICES: usize = 2;
    pub const NOISY_FAILURE: f64 = 0.7;
    /// Activity (calls received) per device: Pareto tail index and cap.
    pub const ACTIVITY_ALPHA: f64 = 1.3;
    pub const ACTIVITY_CAP: f64 = 500.0;
}
