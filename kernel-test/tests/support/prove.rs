//! Perl's TAP readers, shared by the tests that check the harness's TAP:
//! `TAP::Parser` item by item, and `prove` as a CI job runs it.

use std::path::Path;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Perl's TAP::Parser: a line per test point (`N ok|not ok`), a line per
/// YAML list item (`item KEY HEX`), a line per parse error (`error ...`).
pub fn perl_reads(file: &Path) -> String {
    let script = r#"
use strict; use warnings; use TAP::Parser;
my $p = TAP::Parser->new({ source => $ARGV[0] });
while (my $r = $p->next) {
    if ($r->is_test) { print $r->number, " ", ($r->is_ok ? "ok" : "not ok"), "\n"; }
    if ($r->is_yaml) {
        my $d = $r->data;
        for my $k (sort keys %$d) {
            if (ref $d->{$k} eq 'ARRAY') { print "item $k ", unpack("H*", $_), "\n" for @{$d->{$k}}; }
            else { print "value $k ", unpack("H*", $d->{$k} // ''), "\n"; }
        }
    }
}
print "error $_\n" for $p->parse_errors;
"#;
    let out = Command::new("perl").arg("-e").arg(script).arg(file).output().expect("perl");
    assert!(out.status.success(), "perl: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `prove`, as a CI job runs it on a saved report: no parse errors.
pub fn prove_reads(file: &Path) {
    let out = Command::new("prove").arg("-e").arg("cat").arg(file).output().expect("prove");
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!all.contains("Parse errors"), "prove: {all}");
    assert!(all.contains("Tests="), "prove read no tests: {all}");
}
