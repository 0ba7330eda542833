#include "routes/dashboard_route.hpp"

#include "cg/dashboard/assets.hpp"
#include "cg/values/text.hpp"

#include <fmt/format.h>

namespace cg::server {

namespace {

std::string_view trim(std::string_view s) { return values::trim(s, values::blanks); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Calls `each` with every comma-separated element of a header list, trimmed.
template <typename F>
void for_each_element(std::string_view list, F each) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    if (!item.empty()) each(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// A q-value of exactly zero ("q=0", "q=0.0", "q=0.000") means "not acceptable"; anything else accepts.
bool q_is_zero(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    const auto param = trim(params.substr(0, semi));
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      const auto value = param.substr(2);
      return !value.empty() && value.find_first_not_of("0.") == std::string_view::npos;
    }
    if (semi == std::string_view::npos) break;
    params.remove_prefix(semi + 1);
  }
  return false;
}

void set_common_headers(response& res, const dashboard::asset& a) {
  // Why each: the page carries no data (every data call needs the admin key), so the threats are script injection
  // (CSP), content sniffing (nosniff), being framed for clickjacking (frame-ancestors, X-Frame-Options for old
  // browsers) and the URL leaking to other sites (Referrer-Policy).
  res.set("Content-Security-Policy", dashboard_csp);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  // The page's bytes change with every build, its URL never does: revalidate every time (a 304 costs one round
  // trip). Assets carry their content hash in their name, so a cached copy can never be stale: keep it a year.
  res.set(http::field::cache_control, a.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  res.set(http::field::vary, "Accept-Encoding");
}

void serve(const request_ptr& ctx, const responder& respond, const dashboard::asset& a) {
  const bool gzip = !a.gzip_body.empty() && accepts_gzip(ctx->req[http::field::accept_encoding]);
  const auto etag = gzip ? a.gzip_etag : a.etag;
  if (etag_matches(ctx->req[http::field::if_none_match], a.etag, a.gzip_etag)) {
    response res{http::status::not_modified, 11};
    set_common_headers(res, a);
    res.set(http::field::etag, etag);
    respond(std::move(res));
    return;
  }
  response res{http::status::ok, 11};
  set_common_headers(res, a);
  res.set(http::field::content_type, a.content_type);
  res.set(http::field::etag, etag);
  if (gzip) res.set(http::field::content_encoding, "gzip");
  res.body().assign(gzip ? a.gzip_body : a.body);
  res.prepare_payload();
  respond(std::move(res));
}

void handle_page(const request_ptr& ctx, const responder& respond) {
  // The page loads its assets by relative URLs (dashboard/app.….js), which resolve right from /dashboard, also
  // behind a proxy that adds a path prefix. From /dashboard/ they would not: send the browser to /dashboard.
  if (ctx->path.ends_with('/')) {
    response res{http::status::permanent_redirect, 11};
    res.set(http::field::location, "../dashboard");
    res.set(http::field::cache_control, "no-cache");
    res.prepare_payload();
    respond(std::move(res));
    return;
  }
  serve(ctx, respond, dashboard::page());
}

void handle_asset(const request_ptr& ctx, const responder& respond) {
  const std::string& name = ctx->path_params.at(0);
  const auto* a = name == dashboard::page().name ? nullptr : dashboard::find(name);
  if (!a) {
    respond(json_error(http::status::not_found,
                       fmt::format("no dashboard file named '{}' (asset names change with every build: reload "
                                   "/dashboard)",
                                   name),
                       ctx->request_id));
    return;
  }
  serve(ctx, respond, *a);
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  bool accepted = false;
  bool star = false;
  bool gzip_named = false;
  for_each_element(accept_encoding, [&](std::string_view item) {
    const auto semi = item.find(';');
    const auto coding = trim(item.substr(0, semi));
    const bool refused = semi != std::string_view::npos && q_is_zero(item.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_named = true;
      accepted = !refused;
    } else if (coding == "*") {
      star = !refused;
    }
  });
  return gzip_named ? accepted : star;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag, std::string_view gzip_etag) {
  bool match = false;
  for_each_element(if_none_match, [&](std::string_view tag) {
    if (tag == "*") match = true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag || tag == gzip_etag) match = true;
  });
  return match;
}

void register_dashboard_routes(router& routes) {
  routes.add(http::verb::get, "/dashboard", handle_page,
             {.summary = "The web dashboard (a page; its data calls use the admin key)",
              .auth = route_auth::none,
              .responses = "200:text/html 304 308",
              .description = "Embedded at build time. `ETag` + `If-None-Match` (304), `Cache-Control: no-cache`, "
                             "gzip when accepted, and a Content-Security-Policy that allows only the dashboard's "
                             "own files."});
  routes.add(http::verb::get, "/dashboard/<asset>", handle_asset,
             {.summary = "A file of the web dashboard (script, style sheet, chart library, icon)",
              .auth = route_auth::none,
              .responses = "200:text/javascript,text/css,image/svg+xml 304 404",
              .description = "Names carry a hash of their content, so they are cached for a year (`immutable`); "
                             "the page names the current ones."});
}

}  // namespace cg::server
