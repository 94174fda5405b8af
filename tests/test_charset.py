"""Charset truth: declared (HTTP, meta) vs used, replacement characters, and cp932 for Shift_JIS labels."""

from __future__ import annotations

import pytest
from w3lib.encoding import html_to_unicode

from pipelines.charset import charset_report, declared_http_charset, declared_meta_charset

SJIS_PAGE = '<html><head><meta charset="Shift_JIS"><title>①㈱～</title></head><body>受付9時～17時、①番、㈱</body></html>'


@pytest.mark.parametrize("label", ["Shift_JIS", "shift_jis", "SJIS", "x-sjis", "windows-31j", "MS_Kanji"])
def test_shift_jis_labels_decode_as_cp932(label: str) -> None:
    # Scrapy decodes with w3lib; the labels Japanese servers send must all give cp932, a superset with
    # ①㈱ and the full-width tilde (～ U+FF5E, not the wave dash 〜 U+301C that shift_jis_2004 produces).
    body = SJIS_PAGE.encode("cp932")
    encoding, text = html_to_unicode(f"text/html; charset={label}", body)
    assert encoding == "cp932"
    assert "受付9時\uff5e17時、①番、㈱" in text
    assert "\u301c" not in text and "\ufffd" not in text


def test_meta_only_declaration_is_honoured() -> None:
    body = SJIS_PAGE.encode("cp932")
    encoding, text = html_to_unicode(None, body)
    assert encoding == "cp932" and "①番" in text
    assert declared_meta_charset(body) == "cp932"


def test_declared_http_charset() -> None:
    assert declared_http_charset({"content-type": ["text/html; charset=EUC-JP"]}) == "euc_jp"
    assert declared_http_charset({"content-type": ["text/html"]}) is None
    assert declared_http_charset({}) is None
    # Repeated headers: the last declaration is the effective one.
    assert (
        declared_http_charset({"content-type": ["text/html; charset=utf-8", "text/html; charset=Shift_JIS"]})
        == "cp932"
    )


def test_charset_report_counts_replacement_chars() -> None:
    body = SJIS_PAGE.encode("cp932")
    encoding, text = html_to_unicode("text/html; charset=utf-8", body)  # the server lies
    report = charset_report({"content-type": ["text/html; charset=utf-8"]}, body, encoding, text)
    assert report["declared_http"] == "utf-8"
    assert report["declared_meta"] == "cp932"
    assert report["used"] == "utf-8"
    assert report["replacement_chars"] == text.count("\ufffd") > 0


def test_a_lying_label_is_decoded_with_the_charset_that_decodes_the_bytes() -> None:
    from pipelines.charset import decoded_text

    body = "<p>北朝鮮～①</p>".encode("cp932")
    assert decoded_text(body, "utf-8", body.decode("utf-8", "replace")) == ("cp932", "<p>北朝鮮～①</p>")
    # EUC-JP bytes also decode as cp932 (half-width katakana): the plausible reading wins.
    euc = "<p>軍事協力について</p>".encode("euc_jp")
    assert decoded_text(euc, "utf-8", euc.decode("utf-8", "replace")) == ("euc_jp", "<p>軍事協力について</p>")
    # A U+FFFD that is in the page itself, and bytes no candidate decodes, are left as they are.
    genuine = "<p>\ufffd</p>".encode()
    assert decoded_text(genuine, "utf-8", genuine.decode()) == ("utf-8", "<p>\ufffd</p>")
    broken = b"<p>\xff\xfe\xfd\x80</p>"
    text = broken.decode("utf-8", "replace")
    assert decoded_text(broken, "utf-8", text) == ("utf-8", text)
