//! The `ops` binary as `cargo xtask` runs it: every command answers `--help` with its usage under
//! the name users type. (This test also makes `cargo test` build the binary, which the test
//! command's contract checks run.)

use std::process::Command;

fn help(words: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ops"))
        .args(words)
        .arg("--help")
        .output()
        .expect("running ops");
    assert!(output.status.success(), "ops {words:?} --help: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 help")
}

#[test]
fn every_command_answers_help_under_the_name_users_type() {
    let commands: [&[&str]; 13] = [
        &["deploy"],
        &["destroy"],
        &["smoke"],
        &["device"],
        &["bench"],
        &["bench", "api"],
        &["bench", "cold-start"],
        &["bench", "registry"],
        &["bench", "first-run"],
        &["bench", "fleet"],
        &["fleet"],
        &["fleet", "create"],
        &["fleet", "play"],
    ];
    for words in commands {
        let text = help(words);
        let usage = format!("Usage: cargo xtask {}", words.join(" "));
        assert!(text.contains(&usage), "{words:?}: {text}");
    }
}

#[test]
fn an_unknown_command_is_refused_with_the_known_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_ops"))
        .arg("deploi")
        .output()
        .expect("running ops");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deploy"), "{stderr}");
}
