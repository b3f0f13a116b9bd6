"""OONI Web Connectivity's decision rules (spec ts-017, the classic algorithm), pure.

One URL, two views of it: the probe's (a subscriber's device) and the control's (an unfiltered
vantage, OONI's test helper). Each is a `Measurement`: the DNS lookup, the TCP connects to the
addresses it found, and the HTTP GET (redirects followed; `http` describes the final response).
`compare()` gives the test keys OONI computes from the pair and `classify()` OONI's `blocking`
and `accessible`:

    dns_consistency    "consistent": the same addresses (or a common one: every emulated
                       address is in reserved space, where OONI falls back from comparing ASNs
                       to comparing addresses), or compatible failures (NXDOMAIN for both);
                       "inconsistent" otherwise
    body_length_match  the shorter body over the longer > 0.7 (null without both bodies)
    status_code_match  the same final status (null when the control's is not 2xx)
    headers_match      the same header names, or one uncommon name in common
    title_match        every word of 5+ characters of either <title> is in both

    blocking           false | "dns" | "tcp_ip" | "http-failure" | "http-diff" | None
    accessible         True | False | None (None: nothing can be concluded, e.g. no control)

Failure strings are OONI's (netxlite): dns_nxdomain_error, dns_refused_error,
dns_server_misbehaving, dns_no_answer, generic_timeout_error, connection_refused,
connection_reset, eof_error, ssl_* and unknown_failure.

Where OONI's classic rules (probe-cli v0.4) and its current QA expectations
(internal/webconnectivityqa, the LTE engine) differ, these follow the QA: a name that does not
exist for the control either (websiteDownNXDOMAIN) and a connect that fails for the control
too (websiteDownTCPConnect) are blocking false, accessible false, not accessible and tcp_ip.

`verdict()` adds, apart from OONI's vocabulary, what a testbed knows and a probe does not:
"no-service" (the phone had no radio service: nothing was measured) and "site-down" (the site
failed for the control too).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

BODY_PROPORTION_MIN = 0.7
TITLE_WORD_MIN_CHARS = 5
NXDOMAIN = "dns_nxdomain_error"
# A control whose own lookup timed out never reached its resolver: it measured nothing
# (OONI's control_failure, the test helper unreachable).
CONTROL_UNREACHABLE = "generic_timeout_error"
VERDICTS = ("accessible", "dns", "tcp_ip", "http-failure", "http-diff", "unknown",
            "no-service", "site-down")

# Header names (lower case) too common to tell two servers apart (OONI's list).
COMMON_HEADERS = frozenset({
    "date", "content-type", "server", "cache-control", "vary", "set-cookie", "location",
    "expires", "x-powered-by", "content-encoding", "last-modified", "accept-ranges", "pragma",
    "x-frame-options", "etag", "x-content-type-options", "age", "via", "p3p",
    "x-xss-protection", "content-language", "cf-ray", "strict-transport-security", "link",
    "x-varnish"})


@dataclass(frozen=True)
class Dns:
    failure: str | None
    addrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TcpConnect:
    ip: str
    port: int
    failure: str | None      # None: connected


@dataclass(frozen=True)
class Http:
    failure: str | None
    status_code: int = 0                       # the final response's; 0 without one
    body_length: int = -1                      # bytes; -1 without a body
    title: str = ""
    headers: tuple[str, ...] = ()              # header names of the final response
    final_url: str = ""
    body_truncated: bool = False


@dataclass(frozen=True)
class Measurement:
    dns: Dns
    tcp_connect: tuple[TcpConnect, ...] = ()
    http: Http | None = None                   # None: no request was made


@dataclass(frozen=True)
class Keys:
    """OONI's test keys for one probe measurement against its control."""

    dns_consistency: str | None = None
    body_proportion: float | None = None
    body_length_match: bool | None = None
    status_code_match: bool | None = None
    headers_match: bool | None = None
    title_match: bool | None = None
    blocking: str | bool | None = None
    accessible: bool | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"dns_consistency": self.dns_consistency,
                "body_proportion": (None if self.body_proportion is None
                                    else round(self.body_proportion, 3)),
                "body_length_match": self.body_length_match,
                "status_code_match": self.status_code_match,
                "headers_match": self.headers_match, "title_match": self.title_match,
                "blocking": self.blocking, "accessible": self.accessible}


def page_title(body: str) -> str:
    """The text of the first <title> of an HTML body ("" if none)."""
    match = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else ""


def dns_consistency(probe: Dns, control: Dns) -> str:
    if probe.failure is not None or control.failure is not None:
        compatible = probe.failure == control.failure == NXDOMAIN
        return "consistent" if compatible else "inconsistent"
    if set(probe.addrs) & set(control.addrs):
        return "consistent"
    return "inconsistent"


def body_proportion(probe: Http, control: Http) -> float | None:
    if control.body_length <= 0 or probe.body_length <= 0 or probe.body_truncated:
        return None
    small, large = sorted((probe.body_length, control.body_length))
    return small / large


def status_code_match(probe: Http, control: Http) -> bool | None:
    if control.status_code <= 0 or probe.status_code <= 0:
        return None
    if probe.status_code == control.status_code:
        return True
    if control.status_code // 100 != 2:
        return None     # a control answering an error is not a reference
    return False


def headers_match(probe: Http, control: Http) -> bool | None:
    if probe.failure is not None or not probe.headers or not control.headers:
        return None
    ours = {h.lower() for h in probe.headers}
    theirs = {h.lower() for h in control.headers}
    if ours == theirs:
        return True
    return bool((ours & theirs) - COMMON_HEADERS)


def title_match(probe: Http, control: Http) -> bool | None:
    if probe.status_code <= 0 or probe.body_truncated or control.status_code <= 0:
        return None
    if not probe.title:
        return None
    words: dict[str, int] = {}
    for bit, title in ((1, control.title), (2, probe.title)):
        for word in title.split(" "):
            if len(word) >= TITLE_WORD_MIN_CHARS:
                words[word.lower()] = words.get(word.lower(), 0) | bit
    return all(score == 3 for score in words.values())


def compare(probe: Measurement, control: Measurement | None) -> Keys:
    """The comparison keys (no blocking decision yet)."""
    if control is None:
        return Keys()
    keys = {"dns_consistency": dns_consistency(probe.dns, control.dns)}
    if probe.http is not None and control.http is not None and probe.http.failure is None:
        proportion = body_proportion(probe.http, control.http)
        keys.update(body_proportion=proportion,
                    body_length_match=(None if proportion is None
                                       else proportion > BODY_PROPORTION_MIN),
                    status_code_match=status_code_match(probe.http, control.http),
                    headers_match=headers_match(probe.http, control.http),
                    title_match=title_match(probe.http, control.http))
    return Keys(**keys)


def classify(probe: Measurement, control: Measurement | None) -> Keys:
    """OONI's blocking and accessible for `probe` against `control` (None: no control)."""
    keys = compare(probe, control)
    blocking, accessible = _decide(probe, control, keys)
    if accessible is True:
        blocking = False
    return Keys(**{**keys.__dict__, "blocking": blocking, "accessible": accessible})


def _decide(probe: Measurement, control: Measurement | None, keys: Keys):
    http = probe.http
    if http is not None and http.failure is None and http.final_url.startswith("https://"):
        return False, True            # a valid TLS session with the site: the site itself
    if control is None or control.dns.failure == CONTROL_UNREACHABLE:
        return None, None             # no control (OONI: control_failure)
    if probe.dns.failure == NXDOMAIN:
        if keys.dns_consistency == "consistent":
            return False, False       # the name does not exist for the control either
        return "dns", False
    attempts = len(probe.tcp_connect)
    successes = sum(1 for c in probe.tcp_connect if c.failure is None)
    if attempts and not successes:
        if keys.dns_consistency == "consistent":
            if control.tcp_connect and all(c.failure for c in control.tcp_connect):
                return False, False   # the control cannot connect either: the site is down
            return "tcp_ip", False
        return "dns", False
    if control.http is None or control.http.failure is not None:
        return None, None
    if http is None:
        # no address to connect to (e.g. the lookup failed other than with NXDOMAIN)
        return ("dns", False) if keys.dns_consistency == "inconsistent" else (None, None)
    if http.failure is not None:
        return ("dns", False) if http.failure == NXDOMAIN else ("http-failure", False)
    if keys.status_code_match and (keys.body_length_match or keys.headers_match
                                   or keys.title_match):
        return False, True
    if keys.dns_consistency == "inconsistent":
        return "dns", False
    return "http-diff", False


def _failed(measurement: Measurement) -> bool:
    if measurement.dns.failure is not None:
        return True
    if measurement.http is None:
        return True
    return measurement.http.failure is not None


def verdict(keys: Keys, probe: Measurement, control: Measurement | None,
            has_service: bool = True) -> str:
    """One word for the matrix: "accessible", OONI's blocking reason, "unknown" (OONI cannot
    conclude), or, outside OONI's vocabulary, "no-service" and "site-down"."""
    if not has_service:
        return "no-service"
    if control is not None and _failed(control) and _failed(probe):
        return "site-down"
    if keys.accessible is True:
        return "accessible"
    if keys.blocking in VERDICTS:
        return keys.blocking
    return "unknown"
