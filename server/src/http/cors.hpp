#pragma once
// Which browser origins may call which paths (ALLOWED_ORIGINS). Decisions only; the pipeline writes the headers.

#include <string>
#include <string_view>
#include <vector>

namespace cg::server {

/// Thread-safety: immutable after construction; every member function is const.
class cors_policy {
 public:
  /// `allowed_origins`: ALLOWED_ORIGINS entries (`https://app.example.com`, or `*` for any). With none, development
  /// allows any origin and production allows none.
  cors_policy(std::vector<std::string> allowed_origins, bool production);

  /// False for the ingestion paths (`/ingest` and everything that begins with it, as the old app excluded them,
  /// and `/v1/...`): they are server-to-server, and a browser that could call them would hold the ingest key.
  static bool applies_to(std::string_view path) noexcept;

  /// True when a browser page from `origin` may read responses (the origin is echoed back, never `*`, so
  /// responses also carry `Vary: Origin`). Comparison is exact and case-insensitive, as origins are.
  bool allows(std::string_view origin) const noexcept;

  /// False when no origin can ever be allowed (production without ALLOWED_ORIGINS): no CORS headers at all.
  bool enabled() const noexcept { return any_ || !origins_.empty(); }

  /// Request headers a preflight may ask for.
  static constexpr std::string_view allowed_headers = "Content-Type, X-API-Key, Authorization, X-Request-Id";
  /// Response headers a page may read besides the CORS-safelisted ones.
  static constexpr std::string_view exposed_headers =
      "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Content-Disposition, "
      "Deprecation";
  /// How long a browser may cache a preflight answer (seconds).
  static constexpr std::string_view max_age = "600";

 private:
  std::vector<std::string> origins_;  ///< lower-cased
  bool any_ = false;
};

/// Checks one ALLOWED_ORIGINS entry: `*`, or `scheme://host[:port]` without path, query or trailing slash (what a
/// browser sends in Origin). Returns an explanation when it is not one, empty when it is.
std::string origin_entry_problem(std::string_view entry);

}  // namespace cg::server
