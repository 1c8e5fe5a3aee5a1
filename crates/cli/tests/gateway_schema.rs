//! The gateway's HTTP API against its own description, `docs/openapi.yaml`, by schemathesis
//! (PyPI): property-based requests generated from the spec, valid and invalid, sent to the real
//! `pushtrace serve` of a lab, and every answer checked against the spec. The house rule it
//! holds the gateway to: the API validates everything, so no request gets a 5xx, and every answer
//! is one the spec lists, with the content type and body schema the spec gives it.
//!
//! `tests/api_schema/setup.sh` installs schemathesis and openapi-spec-validator (pinned) in a venv
//! under the target directory; this test runs it first and fails with its message when it cannot.
//! The spec is validated before schemathesis reads it.
//!
//! Two runs per store, both with a fixed seed so a failure reproduces:
//! - as generated: every path parameter is whatever the spec allows (apps and calls that mostly
//!   do not exist, so the 404 answers and the validation before the store are what is exercised);
//! - on the lab's data: the app, the call id and the backend's call id are the lab's, so the
//!   handlers behind the lookups (register, history, timeline, cancel, answer) answer too.

mod gateway_lab;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway_lab::{API_TOKEN, Backend, Device, Lab, LabSpec};

/// The checks schemathesis makes on every answer (its names): no 5xx; a status, content type,
/// body and headers the spec lists for the operation; a request the spec calls invalid is
/// refused (`negative_data_rejection`: "the API validates everything"); a method the route does
/// not take is a 405 (`unsupported_method`); the bearer token is required where the spec says
/// (`ignored_auth`).
///
/// Not `positive_data_acceptance` (a request the spec calls valid is accepted), because the spec
/// necessarily allows some requests the gateway rightly refuses with a 400: text fields are
/// limited to 256 *bytes*, which JSON Schema cannot say (`maxLength` counts characters), and a
/// token's `environment` must be the one its app is configured with, which the spec cannot know.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,\
                      negative_data_rejection,unsupported_method,missing_required_header,\
                      ignored_auth";
/// Examples per operation and per run: enough to reach every branch of the validation, few
/// enough that a run stays within seconds.
const MAX_EXAMPLES: &str = "100";
/// The seed of every run: the same requests each time.
const SEED: &str = "20261124";
/// How long one schemathesis run may take before the test calls it hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The venv's `bin/` (installed once per test process).
fn venv_bin() -> PathBuf {
    support::installed(
        "tests/api_schema/setup.sh",
        "api-schema",
        "schemathesis installed",
    )
    .join("venv/bin")
}

/// Runs `command` to its end (at most [`RUN_TIMEOUT`]) with its output in `log`: whether it
/// succeeded, and the output.
fn run_logged(mut command: Command, log: &Path, what: &str) -> (bool, String) {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(log).unwrap_or_default();
    match status {
        Some(status) => (status.success(), output),
        None => (
            false,
            format!("{what} did not finish within {RUN_TIMEOUT:?}; its output so far:\n{output}"),
        ),
    }
}

fn spec_is_valid(bin: &Path, dir: &Path) {
    let spec = repo_file("docs/openapi.yaml");
    let mut command = Command::new(bin.join("openapi-spec-validator"));
    command.arg(&spec).current_dir(dir);
    let (ok, output) = run_logged(
        command,
        &dir.join("spec-validator.log"),
        "openapi-spec-validator",
    );
    assert!(
        ok,
        "{} is not a valid OpenAPI document:\n{output}",
        spec.display()
    );
}

/// One schemathesis run against the lab's gateway; `overrides` fix path parameters by name.
fn schemathesis(bin: &Path, lab: &Lab, name: &str, overrides: &[(&str, &str)]) {
    // Path parameters are fixed in a config file only (schemathesis 4 has no flag for them).
    let config = lab.dir.path().join(format!("schemathesis-{name}.toml"));
    let mut toml = String::from("[parameters]\n");
    for (parameter, value) in overrides {
        toml.push_str(&format!("\"path.{parameter}\" = \"{value}\"\n"));
    }
    std::fs::write(&config, toml).unwrap();
    let mut command = Command::new(bin.join("schemathesis"));
    command
        .arg(format!("--config-file={}", config.display()))
        .arg("run")
        .arg(repo_file("docs/openapi.yaml"))
        .arg(format!("--url=http://{}", lab.gateway_addr))
        .arg(format!("--header=Authorization: Bearer {API_TOKEN}"))
        .arg(format!("--checks={CHECKS}"))
        // Valid requests and requests the spec says are invalid: both must get a listed answer.
        .arg("--mode=all")
        .arg(format!("--max-examples={MAX_EXAMPLES}"))
        .arg(format!("--seed={SEED}"))
        // Nothing remembered between runs: the seed alone decides the requests.
        .arg("--generation-database=none")
        .arg("--workers=1")
        .arg("--no-color")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // Whatever it writes goes into the lab's folder.
        .current_dir(lab.dir.path());
    let log = lab.dir.path().join(format!("schemathesis-{name}.log"));
    let (ok, output) = run_logged(command, &log, "schemathesis");
    assert!(
        ok,
        "schemathesis ({name}, {:?} store) found answers that break docs/openapi.yaml or the \
         house rule (no 5xx); reproduce with the same seed ({SEED}). Its output:\n{output}",
        lab.backend
    );
    // A run that reached no operation would pass too: every operation of the spec was tested.
    let count = |label: &str| {
        output
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().rsplit('/').next().unwrap_or("").to_owned())
    };
    let (selected, tested) = (count("Selected:"), count("Tested:"));
    assert!(
        selected.is_some() && selected == tested,
        "schemathesis ({name}) did not test every operation (selected {selected:?}, tested \
         {tested:?}):\n{output}"
    );
    // Shown with `--nocapture`: what was tested, for a person checking a green run.
    println!("schemathesis ({name}, {:?} store):\n{output}", lab.backend);
}

fn api_conforms_to_its_spec(backend: Backend) {
    let bin = &venv_bin();
    let phone = Device::voip(1, "online");
    let mut spec = LabSpec::new(backend);
    spec.devices = vec![phone.clone()];
    let lab = Lab::start(spec);
    spec_is_valid(bin, lab.dir.path());

    // A registered token and a call that rings it, so the lab's data run reaches real rows.
    lab.register("alice", &phone.token, "voip");
    let created = lab.call("schema-call-1", "alice");
    let call_id = created["call"]["call_id"].as_str().unwrap().to_owned();

    schemathesis(bin, &lab, "generated", &[]);
    schemathesis(
        bin,
        &lab,
        "lab-data",
        &[
            ("app", "acme"),
            ("call_id", &call_id),
            ("client_call_id", "schema-call-1"),
        ],
    );
    // The gateway is still up and serving after all of it.
    let (status, health) = support::http(lab.gateway_addr, "GET", "/healthz", &[], None);
    assert_eq!(status, 200, "{health}");
}

#[test]
fn sqlite_api_conforms_to_its_spec() {
    api_conforms_to_its_spec(Backend::Sqlite);
}

#[test]
fn postgres_api_conforms_to_its_spec() {
    api_conforms_to_its_spec(Backend::Postgres);
}
