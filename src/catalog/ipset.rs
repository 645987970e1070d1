//! Which kernel option and module provide each ipset set type.
//!
//! Linux 6.12's `net/netfilter/ipset/Makefile` builds one module per type,
//! named after it (`hash:ip,port` → `ip_set_hash_ipport`, option
//! `CONFIG_IP_SET_HASH_IPPORT`), and each module carries the alias the
//! kernel requests (`ip_set_hash:ip,port`). The rule is applied to the
//! types mainline has; other names have no known provider.

/// The set types of Linux 6.12 (`ip_set_*.c`).
pub const TYPES: &[&str] = &[
    "bitmap:ip",
    "bitmap:ip,mac",
    "bitmap:port",
    "hash:ip",
    "hash:ip,mac",
    "hash:ip,mark",
    "hash:ip,port",
    "hash:ip,port,ip",
    "hash:ip,port,net",
    "hash:mac",
    "hash:net",
    "hash:net,iface",
    "hash:net,net",
    "hash:net,port",
    "hash:net,port,net",
    "list:set",
];

/// The module and kernel option of set type `name`, if mainline has it.
pub fn provider(name: &str) -> Option<(String, String)> {
    if !TYPES.contains(&name) {
        return None;
    }
    let stem: String = name.chars().filter(|c| *c != ',').map(|c| if c == ':' { '_' } else { c }).collect();
    Some((format!("ip_set_{stem}"), format!("CONFIG_IP_SET_{}", stem.to_ascii_uppercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_makefile() {
        let table = [
            ("hash:ip,port", "ip_set_hash_ipport", "CONFIG_IP_SET_HASH_IPPORT"),
            ("hash:net,iface", "ip_set_hash_netiface", "CONFIG_IP_SET_HASH_NETIFACE"),
            ("bitmap:ip,mac", "ip_set_bitmap_ipmac", "CONFIG_IP_SET_BITMAP_IPMAC"),
            ("list:set", "ip_set_list_set", "CONFIG_IP_SET_LIST_SET"),
        ];
        for (name, module, config) in table {
            assert_eq!(provider(name), Some((module.to_string(), config.to_string())));
        }
        assert_eq!(provider("hash:bogus"), None);
    }
}
