//! Output of `xtprobe profiles`.

use super::{Style, Tone};
use crate::profile::{DEFAULT, Profile};

/// The list of profiles, or one profile's entries.
pub fn to_text(profiles: &[Profile], detailed: bool, style: &Style) -> String {
    let mut out = String::new();
    if !detailed {
        let w = profiles.iter().map(|p| p.name.len()).max().unwrap_or(4) + 2;
        out.push_str(&style.paint(
            Tone::Strong,
            &format!("{:<w$}  REQUIRED  OPTIONAL  DESCRIPTION", "NAME"),
            0,
        ));
        out.push('\n');
        for p in profiles {
            let name = if p.name == DEFAULT {
                format!("{} *", p.name)
            } else {
                super::one_line(&p.name).into_owned()
            };
            let req = p.needs.iter().filter(|n| !n.optional).count();
            out.push_str(&format!(
                "{name:<w$}  {req:>8}  {:>8}  {}\n",
                p.needs.len() - req,
                super::one_line(&p.description)
            ));
        }
        out.push_str("\n* the default. `xtprobe profiles NAME` shows the entries and their sources.\n");
        return out;
    }
    for p in profiles {
        out.push_str(&format!(
            "{} — {}\n",
            style.paint(Tone::Strong, &super::one_line(&p.name), 0),
            super::one_line(&p.description)
        ));
        if let Some(client) = p.client {
            out.push_str(&format!(
                "  what its rules need when {} sends them (--backend {}):\n",
                if client == crate::probe::Backend::Legacy { "iptables-legacy" } else { "iptables-nft" },
                if client == crate::probe::Backend::Legacy {
                    "nft shows iptables-nft's"
                } else {
                    "legacy shows iptables-legacy's"
                }
            ));
        }
        for n in &p.needs {
            let fams = n.families.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(",");
            out.push_str(&format!(
                "  {:<24} {:<9} {}\n",
                super::one_line(&n.describe()),
                if n.optional { "optional" } else { "required" },
                fams
            ));
        }
        for r in &p.rules {
            out.push_str(if r.optional { "  optional rules:\n" } else { "  rules:\n" });
            for line in r.text.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&format!("    {}\n", super::one_line(line)));
            }
        }
        out.push_str("  sources:\n");
        for s in &p.sources {
            out.push_str(&format!("    {}\n", super::one_line(s)));
        }
    }
    out
}
