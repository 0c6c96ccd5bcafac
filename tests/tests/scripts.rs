//! The project's scripts as a developer uses them.

#![allow(clippy::unwrap_used, reason = "a failed call must fail the test")]

use std::process::Command;

/// Sourcing `scripts/services.sh` exports the URLs and leaves the caller's shell as it was:
/// no `set -e` (which would close an interactive shell at its next failing command).
#[test]
fn sourcing_services_sh_exports_urls_and_leaks_no_shell_options() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let script = r#"
        set +euo pipefail
        . scripts/services.sh >/dev/null 2>&1 || exit 3
        case "$-" in *e*) echo "errexit leaked"; exit 4;; esac
        case "$-" in *u*) echo "nounset leaked"; exit 5;; esac
        set -o | grep -q 'pipefail *on' && { echo "pipefail leaked"; exit 6; }
        false
        echo "url=$STACK_TEST_REDIS_URL"
    "#;
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}: {stdout}", out.status);
    assert!(stdout.contains("url=redis://"), "{stdout}");
}
