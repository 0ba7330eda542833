#pragma once
/// The answer of POST /ingest/batch: one result per event, the counts, and the request's status (200 or 207).

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cg::ingest {

/// What became of one event of a batch, as POST /ingest would have answered it alone.
struct batch_event_result {
  int status = 0;             ///< 201 stored, 200 duplicate, or the refusal's status (400, 403, 404, 429, 503)
  std::int64_t id = 0;        ///< the row id (201), or the first row's id (200 duplicate)
  std::string error;          ///< refusals: the message
  std::string field;          ///< refusals: the JSON path (`events[2].model`); empty when no field is at fault
  int retry_after_s = 0;      ///< 429 / 503: seconds before a retry can pass

  static batch_event_result created(std::int64_t row_id) { return {201, row_id, {}, {}, 0}; }
  static batch_event_result duplicate(std::int64_t first_id) { return {200, first_id, {}, {}, 0}; }
  static batch_event_result refused(int status, std::string message, std::string field = {}, int retry_after = 0) {
    return {status, 0, std::move(message), std::move(field), retry_after};
  }

  bool stored_or_duplicate() const noexcept { return status == 201 || status == 200; }
};

/// 200 when every event was stored or was a duplicate (an empty list included), 207 otherwise.
int batch_status(const std::vector<batch_event_result>& results) noexcept;

/// The Retry-After a batch's answer carries: the largest of its events' (0: none, no header).
int batch_retry_after(const std::vector<batch_event_result>& results) noexcept;

/// `{"accepted": n, "duplicates": n, "rejected": n, "results": [{"index", "status", "id"[, "duplicate": true]} or
/// {"index", "status", "error"[, "field"]}, ...]}`, results in body order.
boost::json::object encode_batch_results(const std::vector<batch_event_result>& results);

}  // namespace cg::ingest
