//! The README's test command is the one CI runs, and it sets up what the suite needs itself, so
//! a newcomer's `bash .ci/test-setup && cargo test --workspace` on a fresh machine is CI's run
//! (issue 18, item 7).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_readme_test_command_is_what_ci_runs_and_it_sets_up_the_suite() {
    let readme = read("README.md");
    let after = readme
        .split("Run the whole test suite:")
        .nth(1)
        .expect("README.md says how to run the whole test suite");
    let command = after
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .expect("a command follows");
    assert_eq!(command, "bash .ci/test-setup && cargo test --workspace");
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|line| line.trim() == command),
        ".ci/run must call the README's test command `{command}`:\n{ci}"
    );
    let test = read(".ci/test-setup");
    for step in [
        "crates/emulator/tests/conformance/setup.sh",
        "crates/cli/tests/api_schema/setup.sh",
        "apt-get install -y chromium",
        "crates/cli/tests/browser/setup.sh",
        ".ci/start-postgres.sh",
    ] {
        assert!(test.contains(step), ".ci/test-setup must run `{step}`");
    }
}
