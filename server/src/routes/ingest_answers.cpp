// The outcome-to-HTTP map of routes/ingest_answers.hpp.

#include "routes/ingest_answers.hpp"

#include "http/pipeline.hpp"
#include "routes/handler_support.hpp"

#include "cg/pricing/money.hpp"

#include <boost/json/array.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace cg::server {

namespace json = boost::json;
using ingest::admission_outcome;
using ingest::refusal;

http::status ingest_status(const admission_outcome& outcome) noexcept {
  switch (outcome.what) {
    case admission_outcome::result::stored: return http::status::created;
    case admission_outcome::result::duplicate: return http::status::ok;
    case admission_outcome::result::refused: break;
  }
  switch (outcome.reason) {
    case refusal::invalid_field: return http::status::bad_request;
    case refusal::too_many_events: return http::status::payload_too_large;
    case refusal::unknown_token: return http::status::not_found;
    case refusal::inactive_token: return http::status::forbidden;
    case refusal::rate_limited: return http::status::too_many_requests;
    case refusal::queue_full:
    case refusal::shutting_down:
    case refusal::storage_failed: return http::status::service_unavailable;
  }
  return http::status::internal_server_error;
}

std::string refusal_message(const admission_outcome& outcome, const rate_limit& ingest_limit) {
  switch (outcome.reason) {
    case refusal::invalid_field:
    case refusal::too_many_events: return outcome.detail;
    case refusal::unknown_token: return "unknown tracking token";
    case refusal::inactive_token: return fmt::format("tracking token '{}' is inactive", outcome.detail);
    case refusal::rate_limited:
      return rate_limit_message(ingest_limit, outcome.retry_after_s, "this tracking token");
    case refusal::queue_full: return "ingest queue is full; retry shortly";
    case refusal::shutting_down: return "server is shutting down; retry";
    case refusal::storage_failed:
      return "the event could not be stored (storage unavailable); nothing was recorded, retry";
  }
  return "the event was not stored";
}

std::int64_t refusal_retry_after(const admission_outcome& outcome) noexcept {
  if (outcome.stored_or_duplicate()) return 0;
  if (outcome.reason == refusal::rate_limited) return outcome.retry_after_s;
  return ingest_status(outcome) == http::status::service_unavailable ? 1 : 0;
}

response single_event_answer(const admission_outcome& outcome, const std::string& request_id,
                             const rate_limit& ingest_limit, const success_shape& shape) {
  const auto with_extra = [&shape](json::object body) {
    for (const auto& [key, value] : shape.extra) body[key] = value;
    return body;
  };
  switch (outcome.what) {
    case admission_outcome::result::stored:
      return json_ok(shape.created, with_extra({{"ok", true},
                                                {"id", outcome.id},
                                                {"cost_usd", pricing::to_double_usd(outcome.cost_nusd)},
                                                {"cost_usd_exact", pricing::format_usd(outcome.cost_nusd)},
                                                {"cost_source", outcome.cost_source}}));
    case admission_outcome::result::duplicate:
      return json_ok(http::status::ok, with_extra({{"ok", true}, {"duplicate", true}, {"id", outcome.id}}));
    case admission_outcome::result::refused: break;
  }
  auto res = json_error(ingest_status(outcome), refusal_message(outcome, ingest_limit), request_id, outcome.field);
  if (const auto retry = refusal_retry_after(outcome); retry > 0)
    res.set(http::field::retry_after, std::to_string(retry));
  return res;
}

json::object batch_answer_body(const std::vector<admission_outcome>& outcomes, const rate_limit& ingest_limit) {
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t rejected = 0;
  json::array items;
  items.reserve(outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& outcome = outcomes[i];
    json::object item{{"index", i}, {"status", static_cast<unsigned>(ingest_status(outcome))}};
    switch (outcome.what) {
      case admission_outcome::result::stored:
        ++accepted;
        item["id"] = outcome.id;
        break;
      case admission_outcome::result::duplicate:
        ++duplicates;
        item["id"] = outcome.id;
        item["duplicate"] = true;
        break;
      case admission_outcome::result::refused:
        ++rejected;
        item["error"] = refusal_message(outcome, ingest_limit);
        if (!outcome.field.empty()) item["field"] = outcome.field;
        break;
    }
    items.push_back(std::move(item));
  }
  return {{"accepted", accepted}, {"duplicates", duplicates}, {"rejected", rejected}, {"results", std::move(items)}};
}

http::status batch_answer_status(const std::vector<admission_outcome>& outcomes) noexcept {
  const bool all_good = std::ranges::all_of(outcomes, [](const auto& o) { return o.stored_or_duplicate(); });
  return all_good ? http::status::ok : http::status::multi_status;
}

std::int64_t batch_retry_after(const std::vector<admission_outcome>& outcomes) noexcept {
  std::int64_t longest = 0;
  for (const auto& o : outcomes) longest = std::max(longest, refusal_retry_after(o));
  return longest;
}

}  // namespace cg::server
