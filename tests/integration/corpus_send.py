#!/usr/bin/env python3
"""Send every message of a corpus to an SMTP server with two real clients, Python's smtplib
and swaks, and print one JSON line per delivery: the file, the client, the queued id from the
server's 250, and the summary Python's email package reads from the same file (what Pat's
stored summary must match).

    corpus_send.py HOST PORT CORPUS_DIR
"""
import email
import email.policy
import json
import os
import re
import smtplib
import subprocess
import sys

QUEUED = re.compile(rb"queued as ([0-9A-Za-z]+)")


def summary(raw):
    m = email.message_from_bytes(raw, policy=email.policy.default)

    def addresses(name):
        value = m[name]
        return [a.addr_spec for a in value.addresses] if value is not None else []

    return {
        "subject": str(m["subject"]) if m["subject"] is not None else "",
        "from": addresses("from"),
        "to": addresses("to"),
        "cc": addresses("cc"),
        "message_id": str(m["message-id"]).strip().strip("<>") if m["message-id"] is not None else "",
        "attachments": sum(1 for part in m.walk() if part.is_attachment()),
    }


def send_smtplib(host, port, raw):
    # SMTP carries CRLF line ends; smtplib leaves bytes as they are, so send what a mail
    # library would have produced (swaks converts by itself).
    raw = re.sub(rb"\r?\n", b"\r\n", raw)
    with smtplib.SMTP(host, port, timeout=30) as s:
        s.ehlo("corpus.example.com")
        s.mail("corpus@example.com")
        s.rcpt("qa@example.com")
        code, reply = s.data(raw)
    if code != 250:
        raise SystemExit("smtplib: the server answered %d %r" % (code, reply))
    return QUEUED.search(reply).group(1).decode()


def send_swaks(host, port, path):
    out = subprocess.run(["swaks", "--server", host, "--port", str(port), "--helo", "corpus.example.com",
                          "--from", "corpus@example.com", "--to", "qa@example.com", "--data", path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, check=False).stdout
    found = QUEUED.search(out)
    if found is None:
        raise SystemExit("swaks: no 250 for %s:\n%s" % (path, out.decode(errors="replace")))
    return found.group(1).decode()


def main():
    host, port, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    for name in sorted(os.listdir(corpus)):
        if not name.endswith(".txt"):
            continue
        path = os.path.join(corpus, name)
        with open(path, "rb") as f:
            raw = f.read()
        s = summary(raw)
        for client, send in (("smtplib", lambda: send_smtplib(host, port, raw)),
                             ("swaks", lambda: send_swaks(host, port, path))):
            print(json.dumps({"file": name, "client": client, "id": send(), "summary": s}), flush=True)


if __name__ == "__main__":
    main()
