#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (small hand-made inputs, valid and edge
cases). The SASL seeds carry real proofs computed here for the fuzz drivers' fixed challenges and
nonces and the fake mailbox user@example.org / "pass", so the fuzzer starts from complete
exchanges (TRANSACTION after CRAM-MD5, SCRAM's final round, NTLMv2). Run it again after changing
a driver's fixed values: python3 tests/fuzz/make_seeds.py"""
import base64
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
USER, PASSWORD = "user@example.org", "pass"
STAMP = "<1.2@fuzz.example>"          # APOP timestamp and CRAM-MD5 challenge of the drivers
SNONCE, SALT, ITER = "fuzznonce", b"fuzzsalt", 4096
NTLM_CHALLENGE = bytes.fromhex("0123456789abcdef")


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def md4(data):
    """RFC 1320 (hashlib has no MD4 under OpenSSL 3)."""
    def rotl(x, n):
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF
    msg = data + b"\x80" + b"\0" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = h
        f = lambda x_, y, z: (x_ & y) | (~x_ & z)
        g = lambda x_, y, z: (x_ & y) | (x_ & z) | (y & z)
        hh = lambda x_, y, z: x_ ^ y ^ z
        for i in range(16):
            k, s = i, [3, 7, 11, 19][i % 4]
            a, b, c, d = d, rotl((a + f(b, c, d) + x[k]) & 0xFFFFFFFF, s), b, c
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, [3, 5, 9, 13][i % 4]
            a, b, c, d = d, rotl((a + g(b, c, d) + x[k] + 0x5A827999) & 0xFFFFFFFF, s), b, c
        for i in range(16):
            k, s = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15][i], [3, 9, 11, 15][i % 4]
            a, b, c, d = d, rotl((a + hh(b, c, d) + x[k] + 0x6ED9EBA1) & 0xFFFFFFFF, s), b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, [a, b, c, d])]
    return struct.pack("<4I", *h)


def cram_response(user):
    return user + " " + hmac.new(PASSWORD.encode(), STAMP.encode(), hashlib.md5).hexdigest()


def scram(hash_name, user, cnonce="cnonce"):
    """(client-first, client-final) for the drivers' fixed server nonce and stored salt."""
    h = getattr(hashlib, hash_name)
    salted = hashlib.pbkdf2_hmac(hash_name, PASSWORD.encode(), SALT, ITER)
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored_key = h(client_key).digest()
    first_bare = f"n={user},r={cnonce}"
    server_first = f"r={cnonce}{SNONCE},s={b64(SALT)},i={ITER}"
    without_proof = f"c={b64('n,,')},r={cnonce}{SNONCE}"
    auth_message = ",".join([first_bare, server_first, without_proof])
    signature = hmac.new(stored_key, auth_message.encode(), h).digest()
    proof = bytes(x ^ y for x, y in zip(client_key, signature))
    return "n,," + first_bare, without_proof + ",p=" + b64(proof)


NTLM_NEGOTIATE = b"NTLMSSP\0" + struct.pack("<II", 1, 0x00088207) + b"\0" * 16


def ntlm_authenticate(user, domain):
    nt_hash = md4(PASSWORD.encode("utf-16-le"))
    ntowf = hmac.new(nt_hash, (user.upper() + domain).encode("utf-16-le"), hashlib.md5).digest()
    blob = b"\x01\x01" + b"\0" * 6 + struct.pack("<Q", 0x01D0000000000000) + b"clientch" + b"\0" * 4 + b"\0" * 4
    nt = hmac.new(ntowf, NTLM_CHALLENGE + blob, hashlib.md5).digest() + blob
    fields = [b"\0" * 24, nt, domain.encode("utf-16-le"), user.encode("utf-16-le"), b"W\0S\0", b""]
    offset, header, payload = 64, b"", b""
    for f in fields:
        header += struct.pack("<HHI", len(f), len(f), offset + len(payload))
        payload += f
    return b"NTLMSSP\0" + struct.pack("<I", 3) + header + struct.pack("<I", 0x00088205) + payload


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape"))


def lines(*ls):
    return "".join(l + "\r\n" for l in ls)


def main():
    # pop3_command: one line.
    for i, l in enumerate(["USER alice@example.org", "PASS secret with  spaces", "RETR 1", "top 1 10", "LIST",
                           "APOP user@example.org c4c9334bac560ecc979e58001b3e22fb", "AUTH PLAIN dXNlcg==",
                           "UIDL  1  ", "NOOP a b c d e f g h i", "CAPA\x01", "RE", "QUITS", ""]):
        write("pop3_command", f"seed{i:02}", l)

    # pop3_session: flags byte (1 secure, 2 plaintext login, 4 STLS, 8 NTLMv1, 16 IMPLEMENTATION), lines.
    transaction = ["STAT", "LIST", "UIDL", "LIST 2", "UIDL 3", "RETR 1", "RETR 2", "TOP 3 5", "DELE 1", "DELE 1",
                   "DELE 3", "RSET", "DELE 3", "NOOP", "RETR 9", "QUIT"]
    apop = hashlib.md5((STAMP + PASSWORD).encode()).hexdigest()
    s256_first, s256_final = scram("sha256", USER)
    s1_first, s1_final = scram("sha1", USER)
    sessions = {
        "user_pass": (2, lines("CAPA", "USER " + USER, "PASS pass", *transaction)),
        "wrong_pass": (2, lines("USER " + USER, "PASS nope", "USER x", "PASS inuse", "USER " + USER, "PASS temp",
                                "PASS x", "QUIT")),
        "plain": (2, lines("AUTH PLAIN " + b64("\0" + USER + "\0" + PASSWORD), "STAT", "QUIT")),
        "login": (2, lines("AUTH LOGIN", b64(USER), b64(PASSWORD), "LIST", "QUIT")),
        "cram": (0, lines("AUTH CRAM-MD5", b64(cram_response(USER)), "UIDL", "DELE 2", "QUIT")),
        "scram256": (0, lines("AUTH SCRAM-SHA-256 " + b64(s256_first), b64(s256_final), "", "STAT", "QUIT")),
        "scram1": (0, lines("AUTH SCRAM-SHA-1", b64(s1_first), b64(s1_final), "*", "AUTH SCRAM-SHA-1", "*")),
        "apop": (0, lines("APOP " + USER + " " + apop, "TOP 1 0", "QUIT")),
        "ntlm": (0, lines("AUTH NTLM", b64(NTLM_NEGOTIATE), b64(ntlm_authenticate("user", "example.org")),
                          "STAT", "QUIT")),
        "stls": (6, lines("CAPA", "STLS", "STLS", "CAPA", "AUTH", "USER " + USER, "PASS pass", "QUIT")),
        "unknown_user": (2, lines("APOP dberror@example.org " + apop, "AUTH CRAM-MD5", b64("nobody@example.org x"),
                                  "AUTH PLAIN =", "AUTH PLAIN", "*", "AUTH X", "QUIT")),
        "framing": (0xE2, "CAPA\nNOOP\r\nUSER a\rb\r\n\0\r\n" + "X" * 600 + "\r\nQUIT\r\n"),
    }
    for name, (flags, text) in sessions.items():
        write("pop3_session", name, bytes([flags]) + text.encode())

    # line_reader: [framing|max_line, body max_line, body max_size/8, chunk], stream.
    body = "DATA\r\nline 1\r\n..stuffed\r\n.\n.\r.x\r\nbare lf\nbare cr\rnul\0byte\r\n" + "L" * 300 + "\r\n.\r\nNEXT\r\n"
    write("line_reader", "strict_body", bytes([0x81, 200, 0, 3]) + body.encode())
    write("line_reader", "lenient", bytes([0x80, 0, 0, 0]) + b"a\r\nb\nc\rd\r\n\r\n" + b"Z" * 700 + b"\nend\n")
    write("line_reader", "size_cap", bytes([0xFF, 0, 4, 1]) + b"data\r\n" + b"0123456789\r\n" * 10 + b".\r\n")
    write("line_reader", "empty_body", bytes([0x41, 0, 0, 2]) + b"DATA\r\n.\r\nDATA\r\n\r\n.\r\n")

    # base64
    for i, t in enumerate(["", "Zm9v", "Zg==", "Zm8=", "Zg=", "Z===", "Zm9vYmFy", "A+/=", "Zh==", " Zm9v"]):
        write("base64", f"seed{i:02}", t)

    # sasl: [mechanism (0 PLAIN, 1 PLAIN+authzid, 2 LOGIN, 3 CRAM-MD5, 4 NTLM, 5 SCRAM-SHA-1, 6 SCRAM-SHA-256,
    #        0xff stored SCRAM keys), options (1 initial response, 2 driver base64-encodes, 4-12 secret mode)],
    # pieces separated by "\n#\n".
    sep = b"\n#\n"
    write("sasl", "plain", bytes([0, 3]) + b"\0" + USER.encode() + b"\0pass")
    write("sasl", "plain_authzid", bytes([1, 3]) + b"admin\0" + USER.encode() + b"\0pass")
    write("sasl", "login", bytes([2, 2]) + USER.encode() + sep + b"pass")
    write("sasl", "cram", bytes([3, 2]) + cram_response(USER).encode())
    write("sasl", "cram_none", bytes([3, 6]) + cram_response(USER).encode())
    write("sasl", "ntlm", bytes([4, 2]) + NTLM_NEGOTIATE + sep + ntlm_authenticate("user", "example.org"))
    write("sasl", "ntlm_initial", bytes([4, 3]) + NTLM_NEGOTIATE + sep + ntlm_authenticate("u", ""))
    write("sasl", "scram1", bytes([5, 2]) + s1_first.encode() + sep + s1_final.encode())
    write("sasl", "scram256", bytes([6, 3]) + s256_first.encode() + sep + s256_final.encode())
    write("sasl", "scram256_wrong_kind", bytes([6, 10]) + s256_first.encode() + sep + s256_final.encode())
    write("sasl", "raw_b64", bytes([0, 1]) + b64("\0" + USER + "\0pass").encode())
    write("sasl", "cancel", bytes([6, 0]) + b"*")
    salted = hashlib.pbkdf2_hmac("sha256", b"pass", SALT, ITER)
    ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    sk = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    write("sasl", "scram_keys", b"\xff\x00" +
          f"SCRAM-SHA-256${ITER}:{b64(SALT)}${b64(hashlib.sha256(ck).digest())}:{b64(sk)}".encode())

    # bind_spec: [default port: 1 = 110], list.
    for i, t in enumerate(["127.0.0.1, 127.0.0.2 1110; [::1]:1110; *", "none", "*:995", "mail.example.org:25",
                           "[::ffff:1.2.3.4]", "[2001:DB8::1] 25", "", "127.0.0.1:0", "a,,b", "*:65536"]):
        write("bind_spec", f"seed{i:02}", bytes([1 if i % 2 == 0 else 0]) + t.encode())

    # proxy_header: [limit: 1 = 1024, else 107], what the balancer sent.
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    inet = bytes([192, 0, 2, 7, 10, 0, 0, 1, 0xC3, 0x50, 0, 110])
    for i, t in enumerate([b"\x01PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\r\nUSER bob\r\n",
                           b"\x00PROXY TCP6 2001:db8::5 2001:db8::1 1024 995\r\n",
                           b"\x01PROXY UNKNOWN\r\n",
                           b"\x01" + sig + bytes([0x21, 0x11, 0, 12]) + inet + b"+OK",
                           b"\x01" + sig + bytes([0x20, 0x00, 0, 0]),
                           b"\x01" + sig + bytes([0x21, 0x11, 0, 20]) + inet + bytes([1, 0, 2]) + b"h2" + bytes([4, 0, 0]),
                           b"\x01" + sig + bytes([0x21, 0x21, 0, 36]) + bytes(range(32)) + bytes([4, 0, 3, 0xe3]),
                           b"\x01USER bob\r\n"]):
        write("proxy_header", f"seed{i:02}", t)

    # address_rule: one rule or a list.
    for i, t in enumerate(["*", "10.0.0.1", "192.168.0.0/16", "156.21.50.0 255.255.255.0", "192.168.0.*",
                           "10.0.0.1-10.0.0.50", "2001:db8::/32", "::ffff:10.0.0.0/104", "::/0",
                           "10.0.0.0/8, 2001:db8::1; 192.168.*.*\n1.2.3.4", "010.0.0.1", "1.2.3.4/33"]):
        write("address_rule", f"seed{i:02}", t)

    # settings: [module, setting index], value.
    for i, (m, k, v) in enumerate([(0, 0, "110"), (0, 1, "on"), (0, 2, "127.0.0.1:110"), (1, 0, "25"),
                                   (1, 3, "deny"), (0, 5, "-1"), (1, 7, "off"), (0, 9, "0660"), (1, 11, "x" * 300),
                                   (0, 13, "99999999999999999999"), (1, 20, "normalise"), (0, 30, "yes")]):
        write("settings", f"seed{i:02}", bytes([m, k]) + v.encode())

    # maildir_name: up to three names separated by '/'.
    for i, t in enumerate(["1733400000.M123456P42Q1.host,S=100,W=102:2,S",
                           "1.M7563P1Q2/1.M22501P1Q3/2.x", "host\\057name:2,/:/", "a,W=/b,W=18446744073709551616",
                           "99999999999999999999999.M1P2Q3.h", "x" * 80]):
        write("maildir_name", f"seed{i:02}", t)

    # maildir_index: [1 = the driver appends the checksum], text.
    index = ("mailroom-maildir-index 1\nnew 1 2 3 4 5 6\ncur 1 3 3 4 5 -6\ncount 2\n"
             "n 100 - 1733.M1P2Q3.host,S=98,W=100\nc 200 uid-x 1734.M1P2Q4.host:2,S\n")
    write("maildir_index", "two", b"\x01" + index.encode())
    write("maildir_index", "empty", b"\x01" + b"mailroom-maildir-index 1\nnew 0 0 0 0 0 0\ncur 0 0 0 0 0 0\ncount 0\n")
    write("maildir_index", "bad_sum", b"\x00" + index.encode() + b"checksum 0000000000000000\n")

    # smtp_command: [1 = SMTPUTF8], line.
    for i, (u, t) in enumerate([(1, "FROM:<a@b.example> SIZE=100 BODY=8BITMIME SMTPUTF8"), (0, "TO:<Postmaster>"),
                                (0, 'TO:<"John Doe"@example.org>'), (1, "TO:<@a,@b:user@d\u00f6main.example>"),
                                (0, "EHLO mail.example.org"), (0, "[IPv6:::1]"), (0, "FROM:<>"),
                                (0, "FROM: <a@[192.0.2.1]> size=1 body=7bit"), (0, "TO:<a@b> NOTIFY=NEVER"),
                                (1, "TO:<\xc3\x28@x>"), (0, "MAIL FROM:<a@b>"), (0, "starttls  ")]):
        write("smtp_command", f"seed{i:02}", bytes([u]) + t.encode("utf-8", "surrogateescape"))

    # smtp_session: [a: 1 LMTP, 2 bare endings normalised, 4 no SMTPUTF8, 8 STARTTLS, 16 secure,
    #                32 unknown recipients not counted, 64-128 command limit], [b: limits], stream.
    data = lines("Received: from x", "received: from y", "Subject: hi", "", "..dot", "body") + ".\r\n"
    transaction = lines("MAIL FROM:<a@b.example> SIZE=100", "RCPT TO:<user@example.org>",
                        "RCPT TO:<user2@example.org>", "RCPT TO:<nobody@example.org>", "RCPT TO:<x@foreign.example>",
                        "RCPT TO:<off@example.org>", "RCPT TO:<temp@example.org>", "DATA") + data
    smtp = {
        "smtp": (0, 0xFF, lines("EHLO client.example") + transaction + lines("QUIT")),
        "lmtp": (1, 0xFF, lines("LHLO client.example") + transaction + lines("QUIT")),
        "bare": (0, 0x3F, lines("HELO c", "MAIL FROM:<a@b.example>", "RCPT TO:<user@example.org>", "DATA") +
                 "x\nbare lf\r\n.\n.\r\r\n.\r\nQUIT\r\n"),
        "normalise": (2, 0x3F, lines("EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<Postmaster>", "DATA") +
                      "x\nbare lf\r\n.\r\n" + lines("NOOP", "RSET", "VRFY x", "HELP", "EXPN x", "AUTH PLAIN",
                                                     "BDAT 1", "HELO", "QUIT")),
        "starttls": (8, 0x3F, lines("STARTTLS", "EHLO c", "STARTTLS", "EHLO c", "STARTTLS", "MAIL FROM:<a@b>")),
        "block": (0, 0x30, lines("EHLO c", "MAIL FROM:<a@b.example>", "RCPT TO:<blocked@example.org>")),
        "utf8": (0, 0x3F, lines("EHLO c", "MAIL FROM:<\u00e9@b.example> SMTPUTF8",
                                "RCPT TO:<user@example.org>", "DATA") + "\u00e9\r\n.\r\n"),
        "toobig": (0, 0x7F, lines("EHLO c", "MAIL FROM:<a@b.example> SIZE=999999", "MAIL FROM:<a@b.example>",
                                  "RCPT TO:<user@example.org>", "DATA") + "x" * 1100 + "\r\n" + "y\r\n" * 400 +
                   ".\r\n" + "Z" * 600 + "\r\nbare\rQUIT\r\n"),
    }
    smtp["long_helo"] = (0x80, 0x3F, lines("EHLO " + "h" * 1200, "MAIL FROM:<a@b.example>", "RCPT TO:<user@example.org>",
                                           "DATA") + ".\r\n")
    for name, (a, b, text) in smtp.items():
        write("smtp_session", name, bytes([a, b]) + text.encode())


if __name__ == "__main__":
    main()
