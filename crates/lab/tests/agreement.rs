//! A sample of the mixed fleet, scored: `diagnose` reads the logs the lab wrote and its causes
//! are set against the truth. Where they disagree, one of them is wrong, or the log cannot tell.

use std::path::Path;

use pushtrace_lab::scenario::Span;
use pushtrace_lab::{LogFormat, RunOptions, Scenario, score, write_run};

fn sample() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/mixed-fleet.toml");
    let mut sc = Scenario::load(&path).unwrap();
    sc.fleet.duration = Span::parse("7d").unwrap();
    sc.fleet.devices = 60;
    sc
}

fn scored(sc: &Scenario, options: &RunOptions) -> pushtrace_lab::Score {
    let dir = tempfile::tempdir().unwrap();
    let written = write_run(sc, options, dir.path()).unwrap();
    let score = score(&written).unwrap();
    if std::env::var_os("LAB_SHOW").is_some() {
        for d in &score.disagreements {
            eprintln!(
                "{} {:?} -> {:?}: {}",
                d.push_id, d.truth, d.diagnosed, d.explanation
            );
        }
    }
    eprintln!("{options:?}\n{score}");
    score
}

#[test]
fn diagnose_agrees_with_the_model_on_a_fleet_sample() {
    let sc = sample();
    let options = RunOptions {
        threads: 2,
        ..RunOptions::default()
    };
    let plain = scored(&sc, &options);
    assert!(plain.total > 1000, "{}", plain.total);
    // The residue is where the log alone cannot tell (an arrival not tied to its push, an
    // expiry the log does not show): `LAB_SHOW=1` prints each disagreement with its reasons.
    assert!(plain.accuracy >= 0.95, "{plain}");

    // Noise from chatty processes, at the share of a real log, changes no verdict.
    let noisy = scored(
        &sc,
        &RunOptions {
            noise: 0.69,
            ..options
        },
    );
    assert_eq!(noisy.matrix, plain.matrix);
    assert_eq!(noisy.disagreements, plain.disagreements);

    let json = serde_json::to_value(&plain).unwrap();
    assert_eq!(json["total"], plain.total);
    assert!(
        json["matrix"]["none"]["none"].as_u64().unwrap() > 0,
        "{json}"
    );
}

#[test]
fn the_sample_scores_the_same_in_every_format() {
    let mut sc = sample();
    sc.fleet.devices = 12;
    let syslog = scored(&sc, &RunOptions::default());
    for format in LogFormat::ALL {
        let other = scored(
            &sc,
            &RunOptions {
                format,
                noise: 0.5,
                ..RunOptions::default()
            },
        );
        assert_eq!(other.matrix, syslog.matrix, "{format:?}");
    }
}

#[test]
fn a_bad_noise_share_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_run(
        &sample(),
        &RunOptions {
            noise: 1.5,
            ..RunOptions::default()
        },
        dir.path(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a noise share of 1.5 is not a share below 1: use 0 (no noise) to 0.99"
    );
}
