#include "http/router.hpp"

#include "cg/server/secrets.hpp"

#include "cg/values/json_text.hpp"

#include <boost/beast/core/string.hpp>
#include <fmt/format.h>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

namespace cg::server {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    const auto next = path.find('/', pos);
    const auto end = next == std::string_view::npos ? path.size() : next;
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

void router::add(http::verb method, std::string pattern, handler handle, route_doc doc) {
  route r{method, pattern, {}, std::move(handle), doc};
  for (auto segment : split_path(pattern)) r.segments.emplace_back(segment);
  routes_.push_back(std::move(r));
}

router::match_result router::match(const request_ptr& ctx) const {
  const auto segments = split_path(ctx->path);
  match_result result;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool same = true;
    for (std::size_t i = 0; i < segments.size() && same; ++i) {
      const auto& want = r.segments[i];
      if (want.size() > 2 && want.front() == '<' && want.back() == '>')
        params.emplace_back(segments[i]);
      else
        same = want == segments[i];
    }
    if (!same) continue;
    // HEAD is answered wherever GET is, as HTTP/1.1 expects.
    if (r.method == ctx->req.method() || (r.method == http::verb::get && ctx->req.method() == http::verb::head)) {
      ctx->path_params = std::move(params);
      result.found = &r;
      return result;
    }
    const auto name = std::string(http::to_string(r.method));
    if (result.allow.find(name) == std::string::npos) result.allow += result.allow.empty() ? name : ", " + name;
  }
  return result;
}

void router::dispatch(const request_ptr& ctx, const match_result& matched, const responder& respond) const {
  if (matched.found) {
    matched.found->handle(ctx, respond);
    return;
  }
  if (matched.allow.empty()) {
    respond(json_error(http::status::not_found, fmt::format("no route for {}", ctx->path), ctx->request_id));
    return;
  }
  auto res = json_error(http::status::method_not_allowed,
                        fmt::format("{} is not allowed on {}; allowed: {}",
                                    std::string(ctx->req.method_string()), ctx->path, matched.allow),
                        ctx->request_id);
  res.set(http::field::allow, matched.allow);
  respond(std::move(res));
}

namespace {

void append_double(std::string& out, double v) {
  char buffer[64];
  // Fixed notation when it is the shorter of the two (money lives between 1e-9 and 1e9), scientific otherwise;
  // both are the shortest text that reads back as the same double.
  auto fixed = std::to_chars(buffer, buffer + sizeof buffer, v, std::chars_format::fixed);
  char sci_buffer[64];
  auto sci = std::to_chars(sci_buffer, sci_buffer + sizeof sci_buffer, v);
  if (!std::isfinite(v)) {
    out += "null";  // JSON has no Inf/NaN; nothing the server sends should be one
  } else if (fixed.ec == std::errc{} && fixed.ptr - buffer <= 24) {
    out.append(buffer, fixed.ptr);
  } else {
    out.append(sci_buffer, sci.ptr);
  }
}

void append_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: append_double(out, v.get_double()); return;
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        values::append_json_string(out, member.key());
        out += ':';
        append_json(out, member.value());
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, element);
      }
      out += ']';
      return;
    }
    case boost::json::kind::string: values::append_json_string(out, v.get_string()); return;
    default: out += boost::json::serialize(v); return;
  }
}

}  // namespace

std::string to_json_text(const boost::json::value& value) {
  std::string out;
  out.reserve(256);
  append_json(out, value);
  return out;
}

bool presents_admin_key(const request& req, std::string_view api_key) {
  if (api_key.empty()) return false;
  const auto key = req["X-API-Key"];
  if (!key.empty()) return constant_time_equal(key, api_key);
  const auto auth = req[http::field::authorization];
  if (auth.size() > 7 && boost::beast::iequals(auth.substr(0, 7), "Bearer "))
    return constant_time_equal(auth.substr(7), api_key);
  return false;
}

response json_response(http::status status, std::string body) {
  response res{status, 11};
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response json_error(http::status status, std::string_view message, std::string_view request_id,
                    std::optional<std::string_view> field) {
  boost::json::object body;
  body["error"] = message;
  body["message"] = message;
  body["request_id"] = request_id;
  if (field && !field->empty()) body["field"] = *field;
  auto res = json_response(status, to_json_text(body));
  if (status == http::status::service_unavailable || status == http::status::too_many_requests)
    res.set(http::field::retry_after, "1");
  return res;
}

}  // namespace cg::server
