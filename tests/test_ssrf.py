"""The SSRF policy alone (crawler.ssrf): address classes, IP-literal spellings, the allow-list with and
without ports, the base-URL origins it allow-lists by itself. No Scrapy, no network."""

from __future__ import annotations

import ipaddress

import pytest

from crawler.ssrf import (
    AllowEntry,
    SsrfPolicy,
    address_refusal,
    base_url_entries,
    literal_address,
    parse_allow_entry,
)

NOBODY = SsrfPolicy()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00:ec2::254", "private"),  # AWS's IPv6 metadata address is unique-local
        ("169.254.169.254", "link_local"),
        ("fe80::1", "link_local"),
        ("224.0.0.1", "multicast"),  # is_global is True for it: multicast must be tested on its own
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.100.100.200", "not_global"),  # carrier-grade NAT space (Alibaba Cloud's metadata service)
        # IPv6 forms that lead to an IPv4 host are judged by that host.
        ("::ffff:169.254.169.254", "link_local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:a9fe:a9fe::1", "link_local"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64
    ],
)
def test_every_non_public_class_is_refused(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "203.104.153.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_ipv4_mapped_metadata_address_is_refused_as_a_literal_and_after_resolution() -> None:
    refusal = NOBODY.check_url("http://[::ffff:169.254.169.254]/latest/meta-data/")
    assert refusal is not None and refusal.reason == "link_local"
    assert "169.254.169.254" in refusal.detail
    resolved = NOBODY.check_resolved("metadata.example", "::ffff:169.254.169.254")
    assert resolved is not None and resolved.reason == "link_local"


@pytest.mark.parametrize("host", ["127.1", "0x7f.1", "2130706433", "0177.0.0.1"])
def test_c_library_spellings_of_loopback_are_literals(host: str) -> None:
    assert literal_address(host) == ipaddress.IPv4Address("127.0.0.1")
    refusal = NOBODY.check_url(f"http://{host}:8080/")
    assert refusal is not None and refusal.reason == "loopback"


def test_names_are_not_literals() -> None:
    assert literal_address("www.jiji.com") is None
    assert literal_address("deadbeef") is None  # hex-looking, but no IPv4 for inet_aton either
    assert literal_address("cafe.example") is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme"),
        ("data:text/html,<h1>x</h1>", "scheme"),
        ("ftp://ftp.example.org/pub/", "scheme"),
        ("s3://bucket/key", "scheme"),
        ("gopher://example.org/", "scheme"),
        ("http:///path-only", "no_host"),
        ("http://127.0.0.2:8080/", "loopback"),
        ("http://[::1]:8080/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://10.0.0.1/", "private"),
        ("http://0.0.0.0:6023/", "unspecified"),
    ],
)
def test_urls_refused_before_resolution(url: str, reason: str) -> None:
    refusal = NOBODY.check_url(url)
    assert refusal is not None and refusal.reason == reason


@pytest.mark.parametrize(
    "url", ["https://www.jiji.com/jc/article?k=1", "http://8.8.8.8/", "HTTPS://WWW.ASAHI.COM/"]
)
def test_public_urls_and_names_pass_before_resolution(url: str) -> None:
    # A name is decided after resolution (the resolver), never from its spelling.
    assert NOBODY.check_url(url) is None


def test_resolved_addresses_are_checked_per_name() -> None:
    assert NOBODY.check_resolved("www.jiji.com", "203.104.153.1") is None
    for address, reason in [
        ("169.254.169.254", "link_local"),
        ("10.0.0.7", "private"),
        ("240.1.2.3", "reserved"),
    ]:
        refusal = NOBODY.check_resolved("innocent.example", address)
        assert refusal is not None and refusal.reason == reason
        assert "innocent.example" in refusal.detail and address in refusal.detail


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("127.0.0.1:8001", AllowEntry("127.0.0.1", 8001)),
        ("127.0.0.1", AllowEntry("127.0.0.1", None)),
        ("Intranet.Example.:8080", AllowEntry("intranet.example", 8080)),
        ("intranet.example", AllowEntry("intranet.example", None)),
        ("[::1]:8443", AllowEntry("::1", 8443)),
        ("[::1]", AllowEntry("::1", None)),
        ("::1", AllowEntry("::1", None)),
        ("0:0::1", AllowEntry("::1", None)),
    ],
)
def test_allow_entries_parse(text: str, entry: AllowEntry) -> None:
    assert parse_allow_entry(text) == entry


@pytest.mark.parametrize(
    "text",
    ["", "host:", "host:http", "host:0", "host:70000", "[::1", "[::1]8080", "http://host", "a:b:c", "u@h"],
)
def test_malformed_allow_entries_name_themselves(text: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry"):
        parse_allow_entry(text)


def test_allow_list_with_port_opens_that_port_only() -> None:
    policy = SsrfPolicy.build(["127.0.0.2:8080", "[::1]:8443"])
    assert policy.check_url("http://127.0.0.2:8080/page") is None
    assert policy.check_url("http://[::1]:8443/") is None
    for url in [
        "http://127.0.0.2:8081/",
        "http://127.0.0.2/",
        "http://[::1]:8444/",
        "http://127.0.0.3:8080/",
    ]:
        refusal = policy.check_url(url)
        assert refusal is not None and refusal.reason == "loopback", url


def test_allow_list_without_port_opens_every_port() -> None:
    policy = SsrfPolicy.build(["10.0.0.5", "::1"])
    assert policy.check_url("http://10.0.0.5/") is None
    assert policy.check_url("http://10.0.0.5:9999/") is None
    assert policy.check_url("http://[::1]:1/") is None
    assert policy.check_url("http://[::ffff:10.0.0.5]:22/") is None  # the same IPv4 host
    refusal = policy.check_url("http://10.0.0.6/")
    assert refusal is not None and refusal.reason == "private"
    # An address allowed on every port is allowed whatever name resolved to it.
    assert policy.check_resolved("files.intranet", "10.0.0.5") is None


def test_allow_listed_name_may_resolve_anywhere_on_its_ports_only() -> None:
    policy = SsrfPolicy.build(["intranet.example:8080", "wiki.example"])
    assert policy.check_resolved("intranet.example", "10.0.0.9") is None
    assert policy.check_resolved("INTRANET.example.", "169.254.1.1") is None
    assert policy.check_resolved("wiki.example", "192.168.0.2") is None
    assert policy.check_url("http://intranet.example:8080/") is None
    assert policy.check_url("http://wiki.example:1234/") is None
    # The resolver cannot see ports, so the ports the allow-list does not name are refused up front.
    refusal = policy.check_url("http://intranet.example/")
    assert refusal is not None and refusal.reason == "port_not_allowed" and "8080" in refusal.detail
    # Another name resolving to the same private address is not allowed by the entry.
    other = policy.check_resolved("other.example", "10.0.0.9")
    assert other is not None and other.reason == "private"


def test_base_url_origins_allow_list_their_host_and_port() -> None:
    base_urls = {
        "jiji": "http://127.0.0.1:8001",
        "asahi": "https://mirror.intranet",
        "x": "http://[::1]:9000",
    }
    assert set(base_url_entries(base_urls)) == {
        AllowEntry("127.0.0.1", 8001),
        AllowEntry("mirror.intranet", 443),
        AllowEntry("::1", 9000),
    }
    policy = SsrfPolicy.build([], base_urls)
    assert policy.check_url("http://127.0.0.1:8001/jc/article?k=1") is None
    assert policy.check_url("http://[::1]:9000/") is None
    assert policy.check_url("https://mirror.intranet/") is None
    assert policy.check_resolved("mirror.intranet", "10.2.3.4") is None
    # Only that origin: the simulator's neighbours on the same host stay refused.
    refusal = policy.check_url("http://127.0.0.1:8002/")
    assert refusal is not None and refusal.reason == "loopback"
    assert policy.check_url("http://mirror.intranet/") is not None  # port 80, not the origin's 443
