#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets in fuzz/ into OUT/<target>/.

Seeds are taken from the unit tests (every C++ string literal of the test
files that exercise the parser; adjacent literals are joined as the compiler
joins them), from the shipped example files (scenarios, configs), and for the
signed objects from text protos encoded with protoc. Multi-mode harnesses get
their selector byte in front (see each harness's comment).

Usage: fuzz/seeds.py OUT
"""
import hashlib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 * 1024

LITERAL = re.compile(r'(?:u8)?R"([^(\s]{0,16})\((.*?)\)\1"|"((?:[^"\\\n]|\\.)*)"', re.S)
ESCAPES = {'n': '\n', 'r': '\r', 't': '\t', '0': '\0', '\\': '\\', '"': '"', "'": "'",
           'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', '?': '?'}


def unescape(s):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != '\\' or i + 1 == len(s):
            out.append(c)
            i += 1
            continue
        n = s[i + 1]
        if n == 'x':
            m = re.match(r'[0-9a-fA-F]{1,2}', s[i + 2:])
            out.append(chr(int(m.group(0), 16)) if m else 'x')
            i += 2 + (len(m.group(0)) if m else 0)
        elif n in '01234567':
            m = re.match(r'[0-7]{1,3}', s[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            out.append(ESCAPES.get(n, n))
            i += 2
    return ''.join(out)


def literals(path):
    """The string literals of a C++ file, adjacent ones joined, as bytes."""
    text = open(os.path.join(ROOT, path), encoding='utf-8', errors='replace').read()
    text = re.sub(r'^\s*//.*$', '', text, flags=re.M)  # whole-line comments
    out, cur, last_end = [], None, -1
    for m in LITERAL.finditer(text):
        value = m.group(2) if m.group(2) is not None else unescape(m.group(3))
        if cur is not None and text[last_end:m.start()].strip() == '':
            cur += value
        else:
            if cur is not None:
                out.append(cur)
            cur = value
        last_end = m.end()
    if cur is not None:
        out.append(cur)
    return [s.encode('latin-1', errors='replace') if all(ord(c) < 256 for c in s)
            else s.encode('utf-8') for s in out]


def read(path):
    with open(os.path.join(ROOT, path), 'rb') as f:
        return f.read()


class Corpus:
    def __init__(self, out, name):
        self.dir = os.path.join(out, name)
        os.makedirs(self.dir, exist_ok=True)
        self.count = 0

    def add(self, data, prefix=b''):
        data = prefix + data
        if not data or len(data) > MAX_SEED:
            return
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)
        self.count += 1

    def add_all(self, items, prefix=b''):
        for d in items:
            self.add(d, prefix)


def protoc_encode(message, text):
    return subprocess.run(
        ['protoc', '--encode=pullmail.v1.' + message, '-I', os.path.join(ROOT, 'proto'),
         os.path.join(ROOT, 'proto/pullmail/v1/pullmail.proto')],
        input=text.encode(), capture_output=True, check=True).stdout


NOTIFICATION = '''version: 1 message_id: "abcdefghijklmnopqrstuvwxyz@a.example"
envelope_sender: "ann@a.example" recipients: "bob@b.example" recipients: "carol@B.Example"
recipient_domain: "b.example" sender_endpoint: "127.0.0.1:7002"
created_unix_ms: 1699996400000 expires_unix_ms: 1700086400000 body_size: 4096
body_sha256: "%s" fetch_token: "%s" origin: ORIGIN_NATIVE
summary { from: "Ann <ann@a.example>" to: "bob@b.example" subject: "hello" }
''' % ('\\253' * 32, '\\315' * 32)
BRIDGED = NOTIFICATION.replace('envelope_sender: "ann@a.example"',
                               'envelope_sender: "boss@b.example."') \
    .replace('ORIGIN_NATIVE', 'ORIGIN_BRIDGED_SMTP')


def envelope(c):
    payloads = {0: [NOTIFICATION, BRIDGED,
                    NOTIFICATION.replace('ORIGIN_NATIVE', 'ORIGIN_BRIDGED_SMTP')
                    .replace('envelope_sender: "ann@a.example"',
                             'envelope_sender: "x@legacy.example"')]}
    proto = read('proto/pullmail/v1/pullmail.proto').decode()

    def fields(message):
        body = re.search(r'message %s \{(.*?)\n\}' % message, proto, re.S).group(1)
        return re.findall(r'^\s*(?:repeated\s+)?(\w+)\s+(\w+)\s*=\s*\d+;', body, re.M)

    def sample(message):
        parts = []
        for typ, name in fields(message):
            if typ == 'string':
                v = {'reporter_domain': 'a.example', 'signing_domain': 'a.example'}.get(
                    name, 'id-1@a.example')
                parts.append('%s: "%s"' % (name, v))
            elif typ == 'bytes':
                parts.append('%s: "%s"' % (name, '\\253' * 32))
            elif typ in ('int64', 'uint64'):
                parts.append('%s: 1699996400000' % name)
            elif typ in ('uint32', 'int32'):
                parts.append('%s: 1' % name)
            elif typ == 'bool':
                parts.append('%s: true' % name)
        return ' '.join(parts)

    payloads[1] = [sample('SpamReport')]
    payloads[2] = [sample('Revocation')]
    names = {0: ('Notification', 'SignedNotification'), 1: ('SpamReport', 'SignedSpamReport'),
             2: ('Revocation', 'SignedRevocation')}
    for sel, texts in payloads.items():
        for t in texts:
            payload = protoc_encode(names[sel][0], t)
            c.add(payload, bytes([sel]))
            esc = ''.join('\\%03o' % b for b in payload)
            wire = protoc_encode(names[sel][1], 'payload: "%s" signing_domain: "a.example" '
                                 'key_id: "k1" signature: "%s"' % (esc, '\\001' * 64))
            c.add(wire, bytes([sel | 4]))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]

    c = Corpus(out, 'imap_command_fuzz')
    lits = literals('core/imap/imap_command_test.cc')
    c.add_all(lits)
    c.add(b'\r\n'.join(l for l in lits if len(l) < 200))  # one long session
    c.add(b'a1 LOGIN {5}\r\nalice {3+}\r\npw \r\n'
          b'a2 UID FETCH 1:*,7 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (FROM TO)]<0.100>)\r\n'
          b'a3 SEARCH CHARSET UTF-8 OR FROM ann NOT (SEEN SINCE 1-Jan-2024) UID 1:5\r\n'
          b'a4 STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)\r\n'
          b'a5 APPEND INBOX (\\Draft) "07-Mar-2024 08:15:02 +0100" {11}\r\nSubject: x\r\n\r\n')

    c = Corpus(out, 'imap_session_fuzz')
    lits = literals('core/imap/imap_machine_test.cc')
    # The client's side of the transcripts: tagged commands, continuation
    # answers (base64, DONE, literal bytes); not the server's replies.
    client = [l for l in lits if l.endswith(b'\r\n') and len(l) < 2000 and
              not re.match(rb'^(\* |\+ |[^ ]+ (OK|NO|BAD)\b)', l)]
    login = b'l1 LOGIN ann secret\r\ns1 SELECT INBOX\r\n'
    for l in client:
        c.add(l, b'\0')
        c.add(login + l, b'\0')
    session = login + b''.join(client)
    for sel in (0x00, 0x08, 0x10, 0x18, 0x20, 0x40, 0x80, 0x05, 0x03):
        c.add(session, bytes([sel]))
    c.add(b'a0 CAPABILITY\r\na1 STARTTLS\r\na2 LOGIN ann secret\r\n', b'\5')
    c.add(login + b'f1 FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE BODYSTRUCTURE INTERNALDATE)\r\n'
          b'f2 UID FETCH 2 (BODY.PEEK[1] BODY.PEEK[2.2] BODY[3.HEADER] BODY[4]<0.5> BODY[TEXT])\r\n'
          b'f3 SEARCH OR FROM ann BODY noon\r\nf4 STORE 1:2 +FLAGS (\\Deleted $Junk)\r\n'
          b'f5 UID MOVE 1 Archive\r\nf6 IDLE\r\nDONE\r\nf7 EXPUNGE\r\n'
          b'f8 APPEND INBOX (\\Seen) {11+}\r\nSubject: y\r\n\r\n'
          b'f9 LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))\r\nfa LOGOUT\r\n', b'\0')

    c = Corpus(out, 'mime_fuzz')
    for f in ['core/imap/imap_format_test.cc', 'core/imap/imap_mime_test.cc',
              'core/mail/header_summary_test.cc']:
        c.add_all(l for l in literals(f) if b'\n' in l)
    c.add(b'Content-Type: multipart/digest; boundary=b\r\n\r\n--b\r\nSubject: s\r\n\r\nx\r\n'
          b'--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nt\r\n'
          b'--c\r\nContent-Type: text/html\r\n\r\n<p>\r\n--c--\r\n--b--\r\n')

    c = Corpus(out, 'header_fuzz')
    for f in ['core/mail/header_summary_test.cc', 'core/imap/imap_format_test.cc']:
        c.add_all(literals(f))

    c = Corpus(out, 'smtp_fuzz')
    c.add_all(literals('core/smtp/smtp_command_test.cc'), b'\0')
    for f in ['core/smtp/smtp_session_test.cc', 'core/smtp/smtp_relay_in_test.cc']:
        lits = [l for l in literals(f) if len(l) < 1000]
        c.add(b'\r\n'.join(lits), b'\0')
        c.add_all((l for l in lits if re.fullmatch(rb'[A-Za-z0-9+/=]{4,}', l)), b'\3')
    for l in literals('core/smtp/smtp_data_test.cc'):
        c.add(l, b'\1')
        c.add(l, b'\2')
    for l in literals('core/smtp/smtp_client_test.cc'):
        c.add(l.replace(b'\n', b'\r\n'), b'\4')
    c.add(b'220 mx ESMTP\r\n250-mx\r\n250-SIZE 1000\r\n250 STARTTLS\r\n220 go\r\n250 mx\r\n'
          b'250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 queued\r\n221 bye\r\n', b'\4')
    c.add(b'AHVzZXIAcGFzcw==\r\nYWxpY2U=\r\n=\r\n', b'\3')

    c = Corpus(out, 'pop3_fuzz')
    lits = [l for l in literals('core/pop3/pop3_test.cc') if len(l) < 300]
    for sel in (0, 7, 8, 15):
        c.add(b'\r\n'.join(lits), bytes([sel]))
    c.add(b'CAPA\r\nUSER alice\r\nPASS pw\r\nSTAT\r\nLIST\r\nUIDL 2\r\nTOP 1 0\r\nRETR 3\r\n'
          b'DELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n', b'\7')
    c.add(b'STLS\r\nAUTH PLAIN\r\nAGFsaWNlAHB3\r\nLIST 99999999999\r\nQUIT\r\n', b'\1')

    envelope(Corpus(out, 'envelope_fuzz'))

    c = Corpus(out, 'config_fuzz')
    for f in ['core/config/node_config_test.cc', 'core/config/gateway_config_test.cc']:
        c.add_all((l for l in literals(f) if b'=' in l), b'\0')
    c.add_all((l for l in literals('core/directory/toml_directory_test.cc') if b'=' in l), b'\1')
    for d in ['sim/scenarios', 'tests/sim']:
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            if name.endswith('.toml'):
                c.add(b'legit.retention="2d"\n' + read(os.path.join(d, name)), b'\2')
    c.add_all((l for l in literals('tests/sim/sim_test.cc') if b'=' in l), b'\2')
    for f in ['core/policy/policy_config_test.cc', 'core/logic/outbox_test.cc']:
        c.add_all((l for l in literals(f) if b'=' in l or len(l) < 12), b'\3')

    for name in sorted(os.listdir(out)):
        print('seeds: %-20s %d' % (name, len(os.listdir(os.path.join(out, name)))))


if __name__ == '__main__':
    main()
