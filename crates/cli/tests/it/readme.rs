//! The README as a newcomer follows it: every shell block, in order, in one shell, in an empty
//! directory, with the `trustgate` this test run built first on PATH.

use crate::harness::{docs_script, script_output, ProcessGroup, TempDir};

/// What the README says, in an HTML comment on the line before a block, about running it here.
#[derive(Debug, PartialEq)]
enum Run {
    InOrder,
    InTheBackground,
    Skipped,
}

/// The README's `sh` blocks with how each is run, in the README's order.
fn shell_blocks(readme: &str) -> Vec<(Run, String)> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if line == "```sh" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let run = match previous {
                p if p.starts_with("<!-- README test: skipped") => Run::Skipped,
                p if p.starts_with("<!-- README test: runs in the background") => Run::InTheBackground,
                _ => Run::InOrder,
            };
            blocks.push((run, body.join("\n")));
        }
        previous = line;
    }
    blocks
}

#[test]
fn the_readme_shell_blocks_run_in_order_from_an_empty_directory() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let blocks = shell_blocks(&readme);
    assert_eq!(blocks.iter().filter(|(run, _)| *run == Run::InTheBackground).count(), 1, "one block starts the server");
    assert!(blocks.iter().filter(|(run, _)| *run == Run::InOrder).count() >= 2, "the walkthrough blocks run");

    // The README's server listens on 127.0.0.1:8080; this one on a free port, so runs never collide.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut script = String::from("set -euo pipefail\n");
    for (run, body) in &blocks {
        let body = body.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        match run {
            Run::Skipped => {}
            Run::InOrder => script.push_str(&format!("{body}\n")),
            Run::InTheBackground => script.push_str(&format!(
                "{{\n{body}\n}} >serve.log 2>&1 &\n\
                 for i in $(seq 120); do curl -sf http://127.0.0.1:{port}/readyz >/dev/null && break; sleep 0.5; done\n"
            )),
        }
    }

    let dir = TempDir::new();
    let mut group = ProcessGroup(
        docs_script(dir.path(), 300, &script)
            .env("HOME", dir.path())
            .env("TRUSTGATE_LISTEN", format!("127.0.0.1:{port}"))
            .spawn()
            .unwrap(),
    );
    let code = group.0.wait().unwrap();
    let (output, errors) = script_output(dir.path());
    let served = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(code.success(), "the README's steps failed ({code}):\n{output}\n{errors}\nserver:\n{served}");
    // The walkthrough's three calls answer as its comments say: 200, then 403, then 401.
    let statuses: Vec<&str> = output.lines().filter_map(|l| l.rsplit_once(' ').map(|(_, code)| code)).collect();
    let calls: Vec<&str> = statuses.into_iter().filter(|s| ["200", "401", "403"].contains(s)).collect();
    assert_eq!(calls, ["200", "403", "401"], "the walkthrough's calls:\n{output}");
    assert!(served.contains("Administrator console: sign in at"), "the server says where to sign in:\n{served}");
}

#[test]
fn a_block_is_skipped_or_backgrounded_only_by_the_comment_right_before_it() {
    let readme = "<!-- README test: skipped (slow) -->\n```sh\ncargo install\n```\n\nText.\n\
                  <!-- README test: runs in the background -->\n```sh\ntrustgate serve\n```\n\n```sh\necho hi\n```\n";
    let blocks = shell_blocks(readme);
    assert_eq!(
        blocks,
        [
            (Run::Skipped, "cargo install".to_owned()),
            (Run::InTheBackground, "trustgate serve".to_owned()),
            (Run::InOrder, "echo hi".to_owned())
        ]
    );
}
