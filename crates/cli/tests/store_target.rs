//! `pushtrace store …` never creates a database by mistake: a missing SQLite path is an error
//! that says how to name the gateway's store, and `--config` reads the store `serve` uses.

use std::process::Command;

fn pushtrace(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pushtrace"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_store_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    for command in ["export", "rollup"] {
        let mut args = vec!["store", command, "--store", missing.to_str().unwrap()];
        if command == "rollup" {
            args.extend(["--day", "2026-12-04"]);
        }
        let (ok, stderr) = pushtrace(&args);
        assert!(!ok, "{stderr}");
        assert!(stderr.contains("no store at"), "{stderr}");
        assert!(stderr.contains("--config gateway.toml"), "{stderr}");
        assert!(!missing.exists(), "{command} created {}", missing.display());
    }
}

#[test]
fn config_names_the_store_serve_uses() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "store = \"data/gateway.db\"\n[[apps]]\nname = \"acme\"\nbundle_id = \"com.acme\"\n\
         environment = \"sandbox\"\nkey_file = \"k.p8\"\nkey_id = \"ABCDEFGHIJ\"\n\
         team_id = \"ABCDEFGHIJ\"\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    // Relative to the config's folder, and not created.
    let (ok, stderr) = pushtrace(&["store", "export", "--config", config_arg]);
    assert!(!ok);
    let expected = dir.path().join("data/gateway.db");
    assert!(
        stderr.contains(&format!("no store at {}", expected.display())),
        "{stderr}"
    );
    // Once the gateway's store exists (an empty one is created here as serve would), export
    // reads it.
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(pushtrace_store::Store::open(expected.to_str().unwrap()))
        .unwrap();
    let (ok, stderr) = pushtrace(&["store", "export", "--config", config_arg]);
    assert!(ok, "{stderr}");
    // --config and --store name the store twice: refused.
    let (ok, stderr) = pushtrace(&["store", "export", "--config", config_arg, "--store", "x"]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
