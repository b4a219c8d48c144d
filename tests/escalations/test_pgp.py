"""PGP: checking a contact's public key, and encrypted notices (PGP/MIME, RFC 3156) through a real SMTP server,
decrypted with the private key of a keypair made here with the system's gpg."""

import email
import os
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from pathlib import Path

import gnupg
import pytest
from django.utils import timezone

from mdr.escalations import pgp
from mdr.escalations.notices import notice_encrypted_subject, notice_render, notice_send_email
from mdr.escalations.pgp import PgpError, encrypt, key_inspect
from tests.escalations.test_notice_email import _notice, smtp  # noqa: F401  (smtp is a fixture)

# ASCII markers inside the Japanese title and summary, so a leak shows up in the raw bytes whatever the encoding.
TITLE = "ランサムウェアの展開 WS-01 TITLE-7Q3"
SUMMARY = "エンコードされた PowerShell がローダーを取得 SUMMARY-9Z4"
ACK_URL = "https://acme.mdr.example/ack/ACK-5K1"


@dataclass(frozen=True)
class Keys:
    home: Path
    fingerprint: str
    public: str
    secret: str
    expired: str
    sign_only: str
    encryption_expired: str
    revoked: str


def _gpg(home: Path, *args: str, faked_time: str | None = None) -> str:
    faked = ["--faked-system-time", faked_time] if faked_time else []
    command = ["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", ""]
    return subprocess.run([*command, *faked, *args], check=True, capture_output=True, text=True).stdout


def _make_key(home: Path, uid: str, *, expire: str = "1d", encryption: str | None = "1d", at: str | None = None):
    _gpg(home, "--quick-gen-key", uid, "ed25519", "cert,sign", expire, faked_time=at)
    listing = _gpg(home, "--with-colons", "--list-keys", uid)
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    if encryption:
        _gpg(home, "--quick-add-key", fingerprint, "cv25519", "encr", encryption, faked_time=at)
    return fingerprint


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    fingerprint = _make_key(home, "CSIRT <csirt@acme.example>")
    # Made "in 2020" with a one-day life: expired now, no sleeping needed.
    expired = _make_key(home, "Old <old@acme.example>", at="20200101T000000")
    sign_only = _make_key(home, "Signer <signer@acme.example>", encryption=None)
    # A primary that never expires, with an encryption subkey that expired in 2020.
    encryption_expired = _make_key(home, "Lapsed <lapsed@acme.example>", expire="never", at="20200101T000000")
    revoked = _make_key(home, "Revoked <revoked@acme.example>")
    certificate = (home / "openpgp-revocs.d" / f"{revoked}.rev").read_text()
    (home / "revoke.asc").write_text(certificate.replace(":-----BEGIN", "-----BEGIN"))
    _gpg(home, "--import", str(home / "revoke.asc"))
    yield Keys(
        home=home,
        fingerprint=fingerprint,
        public=_gpg(home, "--armor", "--export", fingerprint),
        secret=_gpg(home, "--armor", "--export-secret-keys", fingerprint),
        expired=_gpg(home, "--armor", "--export", expired),
        sign_only=_gpg(home, "--armor", "--export", sign_only),
        encryption_expired=_gpg(home, "--armor", "--export", encryption_expired),
        revoked=_gpg(home, "--armor", "--export", revoked),
    )
    # Decrypting started a gpg-agent for this home: stop it.
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=os.environ | {"GNUPGHOME": str(home)}, check=False)


def _decrypt(keys: Keys, armored: str) -> bytes:
    result = gnupg.GPG(gnupghome=str(keys.home)).decrypt(armored)
    assert result.ok, result.status
    return result.data


def test_encrypted_japanese_notice_by_smtp_hides_everything_but_the_envelope(smtp, keys):  # noqa: F811
    # given
    inbox, connection = smtp
    notice = _notice(title=TITLE, summary=SUMMARY, ack_url=ACK_URL)
    real_subject, _, _ = notice_render(notice, "ja")

    # when
    message_id = notice_send_email(
        notice=notice, to="csirt@acme.example", language="ja", pgp_key=keys.public, connection=connection
    )

    # then: the outer message is RFC 3156 multipart/encrypted with the envelope headers and a generic subject
    ((rcpt, raw),) = inbox.messages
    assert rcpt == ["csirt@acme.example"]
    for secret in (b"TITLE-7Q3", b"SUMMARY-9Z4", b"ACK-5K1", TITLE.encode(), SUMMARY.encode()):
        assert secret not in raw
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    assert message["Message-ID"] == message_id
    assert message["To"] == "csirt@acme.example"
    assert message["X-MDR-Incident"] == notice.incident_id
    assert message["X-MDR-Notice-Sequence"] == "1"
    assert str(message["Subject"]).strip() == f"【AMBER】インシデント通知（暗号化） {notice.incident_id}"  # noqa: RUF001
    control, payload = message.iter_parts()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_payload().strip() == "Version: 1"
    assert payload.get_content_type() == "application/octet-stream"
    assert payload.get_filename() == "encrypted.asc"
    armored = payload.get_payload()
    assert armored.startswith("-----BEGIN PGP MESSAGE-----")
    decoded_headers = " ".join(str(value) for part in message.walk() for value in part.values())
    assert "TITLE-7Q3" not in decoded_headers and "ランサムウェア" not in decoded_headers

    # then: the private key opens a multipart/alternative that carries the real subject and the notice
    inner = email.message_from_bytes(_decrypt(keys, armored), policy=policy.default)
    assert inner.get_content_type() == "multipart/alternative"
    assert inner.get_param("protected-headers") == "v1"
    assert str(inner["Subject"]) == real_subject
    assert real_subject.startswith("【AMBER】インシデント通知 P1: ランサムウェアの展開")
    assert inner["Message-ID"] == message_id
    text = inner.get_body(preferencelist=("plain",))
    html = inner.get_body(preferencelist=("html",))
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    for part in (text.get_content(), html.get_content()):
        assert TITLE in part and SUMMARY in part and ACK_URL in part
    assert "検知日時: 2026-11-22 10:02:03 JST (UTC+0900)" in text.get_content()


def test_the_same_notice_without_a_key_does_show_the_markers(smtp):  # noqa: F811
    # given: the control for the test above (its "not in raw" checks could otherwise pass for the wrong reason)
    inbox, connection = smtp

    # when
    notice_send_email(
        notice=_notice(title=TITLE, summary=SUMMARY, ack_url=ACK_URL),
        to="csirt@acme.example",
        language="ja",
        connection=connection,
    )

    # then
    ((_, raw),) = inbox.messages
    assert b"TITLE-7Q3" in raw and b"SUMMARY-9Z4" in raw and b"ACK-5K1" in raw


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_retry_keeps_the_message_id_it_is_given(smtp, keys, encrypted):  # noqa: F811
    # given
    inbox, connection = smtp
    message_id = "<delivery-42.retry@mdr.test>"

    # when: the first attempt and its retry
    returned = [
        notice_send_email(
            notice=_notice(),
            to="csirt@acme.example",
            language="en",
            message_id=message_id,
            pgp_key=keys.public if encrypted else "",
            connection=connection,
        )
        for _ in range(2)
    ]

    # then
    assert returned == [message_id, message_id]
    received = [email.message_from_bytes(raw, policy=policy.default) for _, raw in inbox.messages]
    assert [m["Message-ID"] for m in received] == [message_id, message_id]
    assert {m.get_content_type() for m in received} == {"multipart/encrypted" if encrypted else "multipart/alternative"}


def test_django_test_backend_gets_the_pgp_mime_message(keys, mailoutbox):
    # when: the default connection (pytest-django's locmem backend)
    notice_send_email(
        notice=_notice(kind="follow_up", sequence=2, tlp="RED", title=TITLE),
        to="csirt@acme.example",
        language="en",
        pgp_key=keys.public,
    )

    # then: the stored message holds only ciphertext, and renders as PGP/MIME
    (sent,) = mailoutbox
    assert sent.subject == "[TLP:RED] Update #2 (encrypted) 6f1c0b1e-0000-4000-8000-000000000001"
    assert sent.body.startswith("-----BEGIN PGP MESSAGE-----") and "TITLE-7Q3" not in sent.body
    assert sent.message().get_content_type() == "multipart/encrypted"
    assert "TITLE-7Q3" in _decrypt(keys, sent.body).decode()


def test_encrypted_subjects_name_only_tlp_kind_and_incident():
    notice = _notice(kind="final", tlp="AMBER+STRICT")
    assert notice_encrypted_subject(notice, "ja") == f"【AMBER+STRICT】最終報告（暗号化） {notice.incident_id}"  # noqa: RUF001
    assert notice_encrypted_subject(notice, "en") == f"[TLP:AMBER+STRICT] Final report (encrypted) {notice.incident_id}"


def test_a_bad_key_or_no_gpg_sends_nothing(smtp, keys, monkeypatch):  # noqa: F811
    # given
    inbox, connection = smtp
    send = dict(notice=_notice(), to="csirt@acme.example", language="ja", connection=connection)

    # when / then: a key that cannot encrypt, and a machine without gpg, both fail loudly and send nothing
    with pytest.raises(PgpError, match="encryption"):
        notice_send_email(**send, pgp_key=keys.sign_only)
    monkeypatch.setattr(pgp, "GPG_BINARY", "gpg-not-installed")
    with pytest.raises(PgpError, match="not installed"):
        notice_send_email(**send, pgp_key=keys.public)
    assert inbox.messages == []


def test_key_inspect_reads_a_public_key(keys):
    # when
    info = key_inspect(keys.public)

    # then
    assert info.fingerprint == keys.fingerprint
    assert info.uids == ("CSIRT <csirt@acme.example>",)
    assert info.can_encrypt is True
    assert timezone.now() + timedelta(hours=23) < info.expires_at <= timezone.now() + timedelta(days=1)


def test_key_inspect_refuses_a_secret_key(keys):
    with pytest.raises(PgpError, match="private"):
        key_inspect(keys.secret)


@pytest.mark.parametrize(
    "armored",
    ["", "not a key at all", "-----BEGIN PGP MESSAGE-----\n\nhQEMA0xyz\n-----END PGP MESSAGE-----\n"],
    ids=["empty", "garbage", "a-message"],
)
def test_key_inspect_refuses_what_is_not_a_key(armored):
    with pytest.raises(PgpError, match=r"no key given|not an OpenPGP public key"):
        key_inspect(armored)


def test_key_inspect_refuses_more_than_one_key(keys):
    with pytest.raises(PgpError, match="more than one key"):
        key_inspect(keys.public + keys.sign_only)


def test_key_inspect_refuses_an_expired_key(keys):
    with pytest.raises(PgpError, match="expired on 2020-01-02"):
        key_inspect(keys.expired)


def test_key_inspect_refuses_a_revoked_key(keys):
    with pytest.raises(PgpError, match="revoked"):
        key_inspect(keys.revoked)


@pytest.mark.parametrize("which", ["sign_only", "encryption_expired"])
def test_key_inspect_refuses_a_key_that_cannot_encrypt(keys, which):
    with pytest.raises(PgpError, match="no usable encryption"):
        key_inspect(getattr(keys, which))


def test_encrypt_round_trip_and_refusal(keys):
    # when
    armored = encrypt("秘密 secret".encode(), armored_key=keys.public)

    # then
    assert armored.startswith("-----BEGIN PGP MESSAGE-----")
    assert _decrypt(keys, armored).decode() == "秘密 secret"
    with pytest.raises(PgpError, match="expired"):
        encrypt(b"x", armored_key=keys.expired)
