#pragma once
// GET /dashboard (the page) and GET /dashboard/<asset> (its script, style sheet, chart library and icon), served
// from the bytes embedded at build time (cg::dashboard) with ETags, gzip and a strict Content-Security-Policy.

#include "http/http.hpp"
#include "http/router.hpp"

#include <string_view>

namespace cg::server {

/// The Content-Security-Policy of every dashboard response: only the dashboard's own files, no inline script or
/// style, no framing, and API calls to this origin only.
inline constexpr std::string_view dashboard_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// True when an Accept-Encoding value admits gzip (`gzip` or `*`, with a q-value above 0).
bool accepts_gzip(std::string_view accept_encoding);

/// True when an If-None-Match value names one of the tags (weak comparison, as RFC 9110 asks for GET), or is `*`.
bool etag_matches(std::string_view if_none_match, std::string_view etag, std::string_view gzip_etag);

/// Adds the dashboard's two public routes to `routes`.
void register_dashboard_routes(router& routes);

}  // namespace cg::server
