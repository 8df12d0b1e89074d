# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import hashlib
import os

import pytest
from ansible_collections.mailops.mailman.plugins.module_utils import mailbox

CONFIRM = (
    b'From: "reading-group@local.edu confirmation robot on behalf of the list owners"\n'
    b" <reading-group-confirm+0123abcd0123abcd0123abcd0123abcd0123abcd@local.edu>\n"
    b"Reply-To: reading-group-confirm+0123abcd0123abcd0123abcd0123abcd0123abcd@local.edu\n"
    b"To: alice@local.edu\n"
    b"Subject: Your confirmation is needed to join the reading-group@local.edu\n"
    b" mailing list.\n"
    b"Message-ID: <join-1@local.edu>\n"
    b"Date: Sat, 21 Nov 2026 05:00:00 +0000\n"
    b"\n"
    b"Email Address Registration Confirmation\n"
)


def mbox(tmp_path, *messages, name="alice"):
    path = tmp_path / name
    chunks = []
    for raw in messages:
        body = b"\n".join(b">" + line if line.startswith(b"From ") else line
                          for line in raw.split(b"\n"))
        chunks.append(b"From MAILER-DAEMON Sat Nov 21 05:00:00 2026\n" + body.rstrip(b"\n") + b"\n\n")
    path.write_bytes(b"".join(chunks))
    return str(path)


def find(path, fmt="auto", **criteria):
    return mailbox.find_matches(path, fmt, mailbox.Criteria(**criteria))


def test_folded_from_gives_confirm_address_and_token(tmp_path):
    fmt, msgs = find(mbox(tmp_path, CONFIRM), from_contains="reading-group-confirm+0123abcd")
    assert fmt == "mbox" and len(msgs) == 1
    info = mailbox.describe(msgs[0])
    assert info["confirm_address"] == \
        "reading-group-confirm+0123abcd0123abcd0123abcd0123abcd0123abcd@local.edu"
    assert info["confirm_token"] == "0123abcd" * 5
    assert info["message_id"] == "<join-1@local.edu>"
    assert info["subject"] == ("Your confirmation is needed to join the reading-group@local.edu"
                               " mailing list.")


def test_from_line_in_body_does_not_split_and_is_unquoted(tmp_path):
    raw = (b"From: bob@local.edu\nSubject: hi\nMessage-ID: <m1@x>\n\n"
           b"line one\n\nFrom here on, a quoted line\nend\n")
    path = mbox(tmp_path, raw, CONFIRM)
    assert b"\n>From here on" in open(path, "rb").read()
    _fmt, msgs = find(path, subject_contains="hi")
    assert len(msgs) == 1
    text = mailbox.first_plain_text(msgs[0])
    assert text == "line one\n\nFrom here on, a quoted line\nend\n"
    _fmt, msgs = find(path, message_id="join-1@local.edu")
    assert len(msgs) == 1


@pytest.mark.parametrize("raw_headers, criteria", [
    (b"Subject: =?utf-8?q?caf=C3=A9_probe?=\n", dict(subject_contains="café probe")),
    (b'From: "Alice\n Smith" <alice@x.org>\n', dict(from_contains="Alice Smith")),
    (b"Subject: a very\n\tlong subject\n", dict(subject_contains="very long")),
    (b"Message-ID:\n <abc.def@x>\n", dict(message_id="<abc.def@x>")),
    (b"X-Mailman-Rule-Hits: emergency\n", dict(header=dict(name="x-mailman-rule-hits", value="EMERG"))),
])
def test_prefilter_never_rejects_a_real_match(raw_headers, criteria):
    import email.policy
    from email.parser import BytesParser
    c = mailbox.Criteria(**criteria)
    msg = BytesParser(policy=email.policy.default).parsebytes(raw_headers + b"\nbody\n")
    assert c.matches(msg)
    assert c.might_match(raw_headers)


def test_prefilter_rejects_unrelated():
    c = mailbox.Criteria(message_id="<probe-77@x>")
    assert not c.might_match(b"Message-ID: <probe-78@x>\nSubject: probe\n")


def test_criteria_required():
    with pytest.raises(mailbox.MailboxError):
        mailbox.Criteria()


def test_body_intact_allows_footer_and_hash_is_of_normalised_text(tmp_path):
    raw = (b"From: a@x\nMessage-ID: <b@x>\nContent-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: quoted-printable\n\n"
           b"Gr=C3=BC=C3=9Fe\r\nline two   \r\n_______________\r\nlist footer\r\n")
    _fmt, (msg,) = find(mbox(tmp_path, raw), message_id="b@x")
    assert mailbox.body_intact(msg) is None
    assert mailbox.body_intact(msg, "Grüße\nline two\n\n") is True
    assert mailbox.body_intact(msg, "Grüße\nline three") is False
    expected = hashlib.sha256("Grüße\nline two   \n_______________\nlist footer".encode()).hexdigest()
    assert mailbox.describe(msg)["body_sha256"] == expected
    assert mailbox.body_intact(msg, expected_sha256=expected.upper()) is True


def test_missing_mailbox_is_not_created(tmp_path):
    path = str(tmp_path / "nobody")
    assert find(path, message_id="x@y") == (None, [])
    assert find(path, "mbox", message_id="x@y") == ("mbox", [])
    assert find(path, "maildir", message_id="x@y") == ("maildir", [])
    assert not os.path.exists(path)


def test_directory_that_is_not_a_maildir(tmp_path):
    with pytest.raises(mailbox.MailboxError, match="not a Maildir"):
        find(str(tmp_path), message_id="x@y")


def test_maildir_reads_new_and_cur_not_tmp(tmp_path):
    md = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "new" / "1.a.host").write_bytes(CONFIRM)
    (md / "cur" / "2.b.host:2,S").write_bytes(CONFIRM)
    (md / "tmp" / "3.c.host").write_bytes(CONFIRM)
    # the same message seen in both new/ and cur/ (moved while listing) counts once
    (md / "cur" / "1.a.host:2,").write_bytes(CONFIRM)
    fmt, msgs = find(str(md), message_id="join-1@local.edu")
    assert fmt == "maildir" and len(msgs) == 2
    assert os.listdir(md / "tmp") == ["3.c.host"]
