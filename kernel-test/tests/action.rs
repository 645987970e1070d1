//! The GitHub Action (`action.yml`) and the README's workflow that uses it,
//! checked against GitHub's published schemas (SchemaStore's, as vendored by
//! check-jsonschema) and against each other: every `${{ inputs.X }}` the
//! action reads and every `with:` key the workflow passes is a declared
//! input, and every command-line option the action passes exists.
//!
//! Needs `XTPROBE_TOOLS` (`just tools`); without it the tests say so and
//! pass, unless `XTPROBE_REQUIRE_LIVE` is set.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tools() -> Option<PathBuf> {
    match std::env::var_os("XTPROBE_TOOLS") {
        Some(t) => Some(PathBuf::from(t)),
        None => {
            assert!(
                std::env::var_os("XTPROBE_REQUIRE_LIVE").is_none(),
                "XTPROBE_TOOLS is not set (just tools)"
            );
            eprintln!("skipped: set XTPROBE_TOOLS (just tools)");
            None
        }
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// check-jsonschema with a vendored schema: Ok, or its complaint.
fn validate(tools: &Path, schema: &str, file: &Path) -> Result<(), String> {
    let out = Command::new(tools.join("venv/bin/check-jsonschema"))
        .args(["--builtin-schema", schema])
        .arg(file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// The README's workflow example: the yaml block after its marker.
fn readme_workflow() -> String {
    let readme = std::fs::read_to_string(repo().join("kernel-test/README.md")).unwrap();
    let (_, after) =
        readme.split_once("<!-- workflow: checked by kernel-test/tests/action.rs -->").expect("the marker");
    let body = after.split_once("```yaml\n").unwrap().1;
    body.split_once("```").unwrap().0.to_string()
}

#[test]
fn the_action_and_the_readme_workflow_pass_githubs_schemas() {
    let Some(tools) = tools() else { return };
    let action = repo().join("action.yml");
    validate(&tools, "vendor.github-actions", &action).unwrap();

    let dir = std::env::temp_dir().join(format!("kt-action-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let workflow = dir.join("workflow.yml");
    std::fs::write(&workflow, readme_workflow()).unwrap();
    validate(&tools, "vendor.github-workflows", &workflow).unwrap();

    // The validator can say no: a step without its shell, a misspelt `runs`.
    let text = std::fs::read_to_string(&action).unwrap();
    for (from, to) in [("      shell: bash\n", "\n"), ("\nruns:\n", "\nrun:\n")] {
        let broken = dir.join("action.yml");
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        let err = validate(&tools, "vendor.github-actions", &broken).expect_err(from);
        assert!(err.contains("action.yml"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inputs_options_and_the_workflow_agree() {
    let Some(tools) = tools() else { return };
    // PyYAML (from tap.py[yaml] in the tools venv) reads both files.
    let script = r#"
import re, sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
declared = set(action['inputs'])
text = open(sys.argv[1]).read()
used = set(re.findall(r'inputs\.([A-Za-z_][A-Za-z0-9_-]*)', text))
print('undeclared-in-action', sorted(used - declared))
print('unused-inputs', sorted(declared - used))
wf = yaml.safe_load(open(sys.argv[2]))
passed = set()
uses = []
for job in wf['jobs'].values():
    for step in job.get('steps', []):
        u = step.get('uses', '')
        if 'xtprobe' in u:
            uses.append(u)
            passed |= set(step.get('with', {}))
print('uses', uses)
print('undeclared-in-workflow', sorted(passed - declared))
print('matrix', sorted(wf['jobs'][next(iter(wf['jobs']))]['strategy']['matrix']))
opts = set(re.findall(r'(?<![\w-])(--[a-z][a-z-]+)', text))
print('options', ' '.join(sorted(opts)))
"#;
    let dir = std::env::temp_dir().join(format!("kt-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let workflow = dir.join("workflow.yml");
    std::fs::write(&workflow, readme_workflow()).unwrap();
    let out = Command::new(tools.join("venv/bin/python"))
        .arg("-c")
        .arg(script)
        .arg(repo().join("action.yml"))
        .arg(&workflow)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    for want in
        ["undeclared-in-action []", "unused-inputs []", "undeclared-in-workflow []", "matrix ['kernel']"]
    {
        assert!(report.lines().any(|l| l == want), "{want} in\n{report}");
    }
    assert!(report.lines().any(|l| l.starts_with("uses ['") && !l.contains("[]")), "{report}");

    // Every kernel-test option the action passes is one kernel-test has.
    let options = report.lines().find_map(|l| l.strip_prefix("options ")).unwrap();
    let help = |sub: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kernel-test")).args(sub).arg("--help").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let known =
        format!("{}{}{}{}", help(&["matrix"]), help(&["preflight"]), help(&["cache", "key"]), help(&[]));
    let apt = ["--no-install-recommends", "--locked", "--release"];
    for opt in options.split(' ').filter(|o| !apt.contains(o)) {
        assert!(
            known.contains(&format!("{opt} "))
                || known.contains(&format!("{opt},"))
                || known.contains(&format!("{opt}\n"))
                || known.contains(&format!("{opt} <")),
            "action passes {opt}, which kernel-test does not know"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
