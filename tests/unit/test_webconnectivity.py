"""OONI Web Connectivity's decision rules on recorded measurements (spec ts-017)."""

from hermitnet.measure.webconnectivity import (
    Dns,
    Http,
    Measurement,
    TcpConnect,
    classify,
    page_title,
    verdict,
)

SITE_IP = "198.18.0.10"
HEADERS = ("Server", "Date", "Content-type", "Content-Length", "Last-Modified")
RESOLVED = Dns(None, (SITE_IP,))
PAGE = Http(None, 200, 250, "Foreign news", HEADERS, "http://news.example/")


def seen(dns=RESOLVED, connect=None, http=PAGE):
    if connect is None:
        connect = (TcpConnect(dns.addrs[0], 80, None),) if dns.addrs else ()
    return Measurement(dns, connect, http)


CONTROL = seen()


def test_the_site_itself_is_accessible():
    keys = classify(seen(), CONTROL)
    assert (keys.blocking, keys.accessible) == (False, True)
    assert keys.dns_consistency == "consistent"
    assert keys.body_length_match and keys.status_code_match and keys.headers_match


def test_nxdomain_where_the_control_resolves_is_dns_blocking():
    probe = seen(Dns("dns_nxdomain_error"), http=Http("dns_nxdomain_error"))
    keys = classify(probe, CONTROL)
    assert (keys.dns_consistency, keys.blocking, keys.accessible) == ("inconsistent", "dns",
                                                                      False)


def test_nxdomain_for_the_control_too_is_not_blocking_and_site_down_here():
    gone = seen(Dns("dns_nxdomain_error"), http=Http("dns_nxdomain_error"))
    keys = classify(gone, gone)
    # OONI's QA (websiteDownNXDOMAIN): blocking false, accessible false (v0.4 said accessible)
    assert (keys.blocking, keys.accessible) == (False, False)
    assert verdict(keys, gone, gone) == "site-down"


def test_a_lying_resolver_and_a_blockpage_is_dns():
    probe = seen(Dns(None, ("10.10.34.35",)),
                 http=Http(None, 200, 40, "Blocked", ("Server",), "http://news.example/"))
    keys = classify(probe, CONTROL)
    assert (keys.dns_consistency, keys.blocking) == ("inconsistent", "dns")


def test_a_bogon_answer_that_cannot_connect_is_dns():
    probe = seen(Dns(None, ("10.255.255.1",)),
                 (TcpConnect("10.255.255.1", 80, "generic_timeout_error"),),
                 Http("generic_timeout_error"))
    assert classify(probe, CONTROL).blocking == "dns"


def test_connect_timeout_with_consistent_dns_is_tcp_ip():
    probe = seen(connect=(TcpConnect(SITE_IP, 80, "generic_timeout_error"),),
                 http=Http("generic_timeout_error"))
    keys = classify(probe, CONTROL)
    assert (keys.blocking, keys.accessible) == ("tcp_ip", False)


def test_reset_after_connecting_is_http_failure():
    probe = seen(http=Http("connection_reset"))
    assert classify(probe, CONTROL).blocking == "http-failure"


def test_blockpage_in_place_of_the_page_is_http_diff():
    blockpage = Http(None, 200, 40, "Access denied", ("Server", "Date"), "http://news.example/")
    keys = classify(seen(http=blockpage), CONTROL)
    assert keys.body_length_match is False and keys.title_match is False
    assert keys.headers_match is False   # only common names in common
    assert (keys.blocking, keys.accessible) == ("http-diff", False)


def test_a_body_within_the_length_proportion_is_accessible():
    close = Http(None, 200, 200, "Something else entirely", ("Server",), "http://x/")
    keys = classify(seen(http=close), CONTROL)
    assert keys.body_proportion == 0.8 and keys.body_length_match is True
    assert keys.accessible is True


def test_a_body_just_under_the_proportion_needs_headers_or_title():
    short = Http(None, 200, 175, "Other", ("Server",), "http://x/")   # 175 / 250 = 0.7
    keys = classify(seen(http=short), CONTROL)
    assert keys.body_length_match is False
    assert keys.blocking == "http-diff"
    titled = Http(None, 200, 175, "Foreign news", ("Server",), "http://x/")
    assert classify(seen(http=titled), CONTROL).accessible is True


def test_an_empty_body_gives_no_length_match_and_is_judged_by_title_and_headers():
    empty = Http(None, 200, 0, "", ("Server", "Date"), "http://news.example/")
    keys = classify(seen(http=empty), CONTROL)
    assert keys.body_length_match is None and keys.body_proportion is None
    assert keys.title_match is None
    assert keys.blocking == "http-diff"


def test_a_redirect_to_another_page_is_judged_on_the_final_response():
    moved = Http(None, 200, 1200, "Warning page of the operator", ("Server", "X-Filter"),
                 "http://warning.example/")
    keys = classify(seen(http=moved), CONTROL)
    assert keys.blocking == "http-diff"


def test_a_redirect_to_https_that_succeeds_is_accessible():
    secure = Http(None, 200, 10, "", ("Server",), "https://news.example/")
    keys = classify(seen(http=secure), CONTROL)
    assert (keys.blocking, keys.accessible) == (False, True)


def test_status_mismatch_is_http_diff_and_control_error_status_is_no_reference():
    error = Http(None, 503, 250, "Foreign news", HEADERS, "http://news.example/")
    assert classify(seen(http=error), CONTROL).blocking == "http-diff"
    control_error = seen(http=Http(None, 500, 250, "Foreign news", HEADERS, "http://x/"))
    keys = classify(seen(), control_error)
    assert keys.status_code_match is None
    assert keys.blocking == "http-diff"   # OONI needs a matching status to call it accessible


def test_without_a_control_nothing_is_concluded():
    keys = classify(seen(http=Http("connection_reset")), None)
    assert (keys.blocking, keys.accessible) == (None, None)
    assert verdict(keys, seen(), None) == "unknown"


def test_a_site_down_for_the_control_too():
    down = seen(connect=(TcpConnect(SITE_IP, 80, "connection_refused"),),
                http=Http("connection_refused"))
    keys = classify(down, down)
    # OONI's QA (websiteDownTCPConnect): blocking false, accessible false (v0.4 said tcp_ip)
    assert (keys.blocking, keys.accessible) == (False, False)
    assert verdict(keys, down, down) == "site-down"


def test_a_connect_that_fails_only_for_the_probe_is_tcp_ip():
    probe = seen(connect=(TcpConnect(SITE_IP, 80, "generic_timeout_error"),),
                 http=Http("generic_timeout_error"))
    keys = classify(probe, CONTROL)
    assert (keys.blocking, keys.accessible) == ("tcp_ip", False)


def test_a_control_that_reached_no_resolver_concludes_nothing():
    unreachable = seen(Dns("generic_timeout_error"), http=Http("generic_timeout_error"))
    keys = classify(seen(), unreachable)
    # OONI's QA (controlFailureWithSuccessfulHTTPWebsite): blocking null, accessible null
    assert (keys.blocking, keys.accessible) == (None, None)
    assert verdict(keys, seen(), unreachable) == "unknown"
    https = seen(http=Http(None, 200, 250, "Foreign news", HEADERS, "https://news.example/"))
    assert classify(https, unreachable).accessible is True   # ...WithSuccessfulHTTPSWebsite


def test_the_control_fails_only_at_http():
    control = seen(http=Http("connection_reset"))
    keys = classify(seen(http=Http("connection_reset")), control)
    assert (keys.blocking, keys.accessible) == (None, None)
    assert verdict(keys, seen(http=Http("connection_reset")), control) == "site-down"


def test_no_service_is_kept_apart_from_oonis_reasons():
    probe = seen(Dns("generic_timeout_error"), http=None)
    keys = classify(probe, CONTROL)
    assert keys.blocking == "dns"     # what OONI would say from the phone
    assert verdict(keys, probe, CONTROL, has_service=False) == "no-service"


def test_headers_with_one_uncommon_name_in_common_match():
    probe = Http(None, 200, 30, "x", ("Server", "X-Site"), "http://x/")
    control = Http(None, 200, 250, "y", ("Date", "X-Site", "Content-Length"), "http://x/")
    keys = classify(seen(http=probe), seen(http=control))
    assert keys.headers_match is True and keys.accessible is True


def test_page_title():
    assert page_title("<html><head><TITLE>Caf&eacute; news</TITLE>") == "Café news"
    assert page_title("<p>no title</p>") == ""
