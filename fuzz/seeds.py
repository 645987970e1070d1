#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

Seeds are real inputs: netlink replies captured from this machine's kernel
(in a fresh network namespace), text index files in depmod's format, this
kernel's own config, the module files of the harness's kernels, and the
grammar's examples. Run as root from the repository:

    unshare -n python3 fuzz/seeds.py [MODULE.ko ...]

The output is checked in; re-running it only adds files.
"""
import gzip
import hashlib
import lzma
import os
import socket
import struct
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def nla(ty, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, ty) + payload + b"\0" * ((4 - n % 4) % 4)


def compat_get(seq, family, name, rev, kind):
    body = struct.pack("=BBH", family, 0, 0)
    body += nla(1, name.encode() + b"\0") + nla(2, struct.pack(">I", rev)) + nla(3, struct.pack(">I", kind))
    return struct.pack("=IHHII", 16 + len(body), 0x0B00, 0x5, seq, 0) + body


def getgen(seq):
    body = struct.pack("=BBH", 0, 0, 0)
    return struct.pack("=IHHII", 16 + len(body), 0x0A10, 0x5, seq, 0) + body


def record(s, target, request):
    """Sends `request` and keeps every datagram the kernel answers, one
    seed each and one for all of them together."""
    s.send(request)
    got = b""
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        seed(target, d)
        got += d
    seed(target, got)


def capture_netlink():
    """Asks this kernel real questions and keeps every datagram it answers."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    s.bind((0, 0))
    s.setsockopt(270, 11, 1)  # SOL_NETLINK, NETLINK_EXT_ACK
    s.settimeout(0.3)
    questions = [
        compat_get(1, 2, "conntrack", 3, 0),  # data + ack
        compat_get(1, 2, "conntrack", 0, 0),  # EPROTONOSUPPORT
        compat_get(1, 10, "nosuchmatch", 0, 0),  # ENOENT
        compat_get(1, 2, "comment", 300, 0),  # ERANGE with extack
        compat_get(1, 0, "comment", 0, 0),  # EINVAL
        compat_get(1, 2, "MASQUERADE", 0, 1),
        getgen(1),
        compat_get(1, 2, "comment", 0, 0) + compat_get(2, 2, "DNAT", 2, 1) + getgen(3),  # a batch
    ]
    for q in questions:
        record(s, "netlink_reply", q)


def ipset_msg(seq, cmd, attrs):
    body = struct.pack("=BBH", 2, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), (6 << 8) | cmd, 5, seq, 0) + body


# An nf_tables validate-only batch as xtprobe sends it (BATCH_BEGIN, then
# NEWTABLE, NEWCHAIN, NEWRULE with a `queue` expression, each with
# NLM_F_ACK, no BATCH_END): captured from nft's own --check and edited.
NFT_BATCH = bytes.fromhex(
    "14000000100001000000000000000000"
    "0000000a2400000000" "0a050001000000000000000200000006000100740000000800020000000000"
    "24000000030a050402000000000000000200000006000100740000000600030063000000"
    "4c000000060a050c03000000000000000200000006000100740000000600020063000000"
    "280004802400018" "00a000100717565756500000014000280060001000000000006000200"
    "00010000"
)


def capture_transactions():
    """An nf_tables batch's ACKs and ipset's protocol and type answers."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.bind((0, 0))
    s.setsockopt(270, 11, 1)  # NETLINK_EXT_ACK
    s.settimeout(0.3)
    proto = nla(1, bytes([7]))
    asked = [
        ("netlink_reply", NFT_BATCH),
        ("ipset_reply", ipset_msg(1, 1, proto)),
        ("ipset_reply", ipset_msg(1, 13, proto + nla(3, b"hash:ip,port\0") + nla(5, bytes([2])))),
        ("ipset_reply", ipset_msg(1, 13, proto + nla(3, b"hash:nosuch\0") + nla(5, bytes([2])))),
    ]
    for target, q in asked:
        record(s, target, q)


def capture_dumps():
    """An nf_tables ruleset's dump messages (tables, chains, sets, rules),
    as `xtprobe capture` reads them, one seed per message (type byte first)."""
    ruleset = """table ip t {
  map m { type ipv4_addr . inet_service : verdict; }
  set s { type ipv4_addr; flags interval,timeout; timeout 1h; }
  chain post { type nat hook postrouting priority 100; masquerade fully-random; }
  chain c { ip saddr @s counter accept; numgen random mod 2 vmap { 0 : accept, 1 : drop }; }
}
"""
    subprocess.run(["nft", "-f", "-"], input=ruleset.encode(), check=True)
    subprocess.run(["iptables-nft", "-A", "INPUT", "-m", "comment", "--comment", "x", "-j", "ACCEPT"], check=True)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.bind((0, 0))
    s.settimeout(0.3)
    for get in (1, 4, 10, 7):  # GETTABLE, GETCHAIN, GETSET, GETRULE
        s.send(struct.pack("=IHHII", 20, (10 << 8) | get, 0x301, 1, 0) + struct.pack("=BBH", 0, 0, 0))
        while True:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            off = 0
            while off + 16 <= len(d):
                n, ty = struct.unpack_from("=IH", d, off)
                if n < 16 or off + n > len(d):
                    break
                if ty >> 8 == 10:
                    seed("nft_dump", bytes([(ty & 0xff) // 3]) + d[off + 16:off + n])
                off += (n + 3) & ~3


def xt_entries_seeds():
    """Legacy table entries as SO_GET_ENTRIES returns them (ipv4 layout):
    an entry with two matches and a target, a verdict, a user chain."""
    def entry(matches, target, data=b"\0" * 8):
        e = bytearray(112)
        for name in matches:
            m = bytearray(40)
            struct.pack_into("=H", m, 0, 40)
            m[2:2 + len(name)] = name.encode()
            e += m
        t_off = len(e)
        size = 32 + (len(data) + 7) // 8 * 8
        t = bytearray(size)
        struct.pack_into("=H", t, 0, size)
        t[2:2 + len(target)] = target.encode()
        t[32:32 + len(data)] = data
        e += t
        struct.pack_into("=HH", e, 88, t_off, len(e))
        return bytes(e)
    table = entry(["comment", "tcp"], "MASQUERADE") + entry([], "") + entry([], "ERROR", b"KUBE-SVC\0")
    table += entry(["statistic"], "DNAT") + entry([], "ERROR", b"ERROR\0")
    seed("xt_entries", bytes([0, 0]) + table)


def text_seeds():
    seed("modules_dep", "kernel/net/netfilter/xt_comment.ko.xz: kernel/net/netfilter/x_tables.ko.xz\n"
                        "kernel/net/netfilter/x_tables.ko.xz:\n"
                        "kernel/net/netfilter/xt_conntrack.ko.xz: kernel/net/netfilter/x_tables.ko.xz "
                        "kernel/net/netfilter/nf_conntrack.ko.xz kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko.xz "
                        "kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko.xz kernel/lib/libcrc32c.ko.xz\n"
                        "/lib/modules/6.12.0/updates/a.ko: ../b.ko\n")
    seed("modules_alias", "# Aliases extracted from modules themselves.\nalias ipt_comment xt_comment\n"
                          "alias ip6t_comment xt_comment\nalias crypto-crc32c crc32c_generic\n"
                          "alias pci:v00008086d*sv*sd*bc*sc*i* e1000e\nalias [a-z]*x[!y]? m\n"
                          "cpu:type:x86,ven*fam*mod*:feature:*0094*\n")
    seed("modules_softdep", "# Soft dependencies extracted from modules themselves.\n"
                            "softdep libcrc32c pre: crc32c\nsoftdep cifs gcm\nsoftdep cifs post: aes pre: md5\n")
    seed("modules_builtin", "kernel/net/netfilter/x_tables.ko\nkernel/net/netfilter/xt_comment.ko\n")
    seed("modules_builtin", b"xt_comment.alias=ipt_comment\0xt_comment.alias=ip6t_comment\0"
                            b"xt_comment.license=GPL\0x_tables.license=GPL\0junk\0")
    seed("kconfig", "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_NETFILTER_XT_MATCH_COMMENT=m\n"
                    "CONFIG_NFT_COMPAT=y\n# CONFIG_NETFILTER_XT_MATCH_U32 is not set\n"
                    "CONFIG_MODPROBE_PATH=\"/sbin/modprobe\"\nCONFIG_LOG_BUF_SHIFT=17\n")
    try:
        with open("/proc/config.gz", "rb") as f:
            text = gzip.decompress(f.read()).decode(errors="replace")
        lines = text.splitlines()
        seed("kconfig", "\n".join(lines[:120]) + "\n")
        seed("kconfig", "\n".join(l for l in lines if "NETFILTER" in l or "NFT_" in l) + "\n")
    except OSError:
        pass
    seed("profile_toml", 'name = "my-cni"\ndescription = "what it is for"\nfamilies = ["ipv4", "ipv6"]\n'
                         'required = ["comment", "target:MASQUERADE", "conntrack@1"]\noptional = ["statistic"]\n\n'
                         '[[extension]]\nspec = "icmp6"\nfamilies = ["ipv6"]\noptional = false\n')
    seed("profile_toml", "required = ['''comment''', \"\"\"mark\"\"\"] # c\n[[extension]]\nspec = 'x'\n")
    seed("ext_spec", "comment match:conntrack@3 target:MASQUERADE t:DNAT@2 m:mark ipv4,ipv6,arp,bridge")
    seed("ext_spec", "j:REJECT x:y @ conntrack@256 inet6 eb ebtables")
    seed("ext_spec", "expr:numgen chain:nat family:ip set:interval ipset:hash:ip,port@6 inet netdev")
    seed("rules_save", "# Generated by iptables-save v1.8.9 (nf_tables)\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC - [0:0]\n"
         "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SVC\n"
         "-A KUBE-SVC -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.0.0.1:80\n"
         "-A KUBE-SVC -p udp --dport 53 -j MASQUERADE\nCOMMIT\n")
    seed("rules_save", "*filter\n-A INPUT -p ipv6-icmp --icmpv6-type 128 -j ACCEPT\n-N LATER\n-A INPUT -j LATER\nCOMMIT\n")
    seed("rules_json", '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "ip", "name": "t"}},'
         ' {"chain": {"family": "ip", "table": "t", "name": "c", "type": "nat", "hook": "postrouting", "prio": 100}},'
         ' {"map": {"family": "ip", "name": "m", "table": "t", "type": ["ipv4_addr", "inet_service"], "map": "verdict", "flags": ["interval"]}},'
         ' {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}},'
         ' {"vmap": {"key": {"numgen": {"mode": "random", "mod": 2}}, "data": {"set": []}}}, {"masquerade": {"flags": "fully-random"}},'
         ' {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 16384]}}}, {"xt": {"type": "match", "name": "comment"}}]}}]}')
    seed("ext_spec", "expr:numgen@1 chain:mangle family:ipx set:bloom ipset:Hash:IP ipset:hash:ip@x")
    seed("modprobe_conf", "# CIS\ninstall dccp /bin/false\nblacklist xt_comment\noptions xt_recent ip_list_tot=1000 \\\n"
         "  ip_pkt_list_tot=50\nalias my_recent xt_recent\nsoftdep xt_comment pre: xt_mark post: x\n"
         "remove xt_recent /bin/true\ninstall xt_str*ng /bin/true\nbogus line\noptions\n")
    seed("modprobe_conf", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 xt_recent.ip_list_tot=5 modprobe.blacklist=a,b "
         "\"xt-recent.x=a b\" module_blacklist=c quiet -- init")
    import glob
    for k in glob.glob(os.path.expanduser("~/.cache/xtprobe/kbuild/linux-source-6.12-*/src/net/netfilter/Kconfig"))[:1]:
        with open(k, "rb") as f:
            seed("kconfig_lang", f.read())
    seed("kconfig_lang", "menu \"x\"\n\tdepends on A && (B || !C)\nif D\nconfig E\n\ttristate \"e\"\n\tdepends on F = y\n"
         "\thelp\n\t  text\nendif\nendmenu\nsource \"net/Kconfig\"\n")
    for d in ("/etc/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d"):
        try:
            for n in sorted(os.listdir(d)):
                with open(os.path.join(d, n), "rb") as f:
                    seed("modprobe_conf", f.read(1 << 16))
        except OSError:
            pass


def compressed(target, raw):
    seed(target, raw)
    seed("decompress", lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32))
    seed("decompress", lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64))
    seed("decompress", gzip.compress(raw))
    try:
        seed("decompress", subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout)
    except (OSError, subprocess.CalledProcessError):
        pass


def built_module():
    """A relocatable ELF with a .modinfo section, as modpost writes one."""
    import tempfile
    src = (b'__attribute__((section(".modinfo"), used)) static const char info[] = '
           b'"alias=ipt_comment\\0alias=ip6t_comment\\0license=GPL\\0depends=x_tables\\0softdep=pre: crc32c\\0"'
           b'"name=xt_comment\\0vermagic=6.12.0 SMP preempt mod_unload modversions \\0";\n'
           b'int init_module(void) { return 0; }\n')
    with tempfile.TemporaryDirectory() as d:
        c, o = os.path.join(d, "m.c"), os.path.join(d, "m.ko")
        with open(c, "wb") as f:
            f.write(src)
        subprocess.run(["gcc", "-c", "-O1", "-o", o, c], check=True)
        with open(o, "rb") as f:
            return f.read()


def module_seeds(paths):
    compressed("modinfo_elf", built_module())
    seed("modinfo_scan", built_module())
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        if data.startswith(b"\xfd7zXZ\0"):
            seed("decompress", data)
            data = lzma.decompress(data)
        compressed("modinfo_elf", data)


if __name__ == "__main__":
    text_seeds()
    module_seeds(sys.argv[1:])
    capture_netlink()
    capture_transactions()
    capture_dumps()
    xt_entries_seeds()
