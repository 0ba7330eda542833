#pragma once
/// The one way an event gets in: from a decoded usage event and the tracking token it names to an outcome (stored,
/// duplicate, or refused with a reason). POST /ingest, POST /log and POST /ingest/batch all call
/// admission_service::admit(); nothing here knows HTTP: server/ maps an outcome to its answer in one place.

#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/token_registry.hpp"
#include "cg/ingest/usage_event.hpp"
#include "cg/ingest/validation.hpp"
#include "cg/pricing/price_table.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace cg::ingest {

/// What became of one event.
struct admission_outcome {
  enum class result { stored, duplicate, refused };

  result what = result::refused;
  std::int64_t id = 0;            ///< stored: the new row's id; duplicate: the first row's id
  std::int64_t cost_nusd = 0;     ///< stored: the cost the row holds
  std::string cost_source;        ///< stored: client | server | unpriced
  refusal reason = refusal::invalid_field;  ///< refused: why
  std::string field;              ///< refused: the JSON path at fault, empty when no field is
  /// refused: invalid_field and too_many_events: the message for the client; inactive_token: the token's label;
  /// storage_failed: the storage error, for the log only (never sent to a client).
  std::string detail;
  std::int64_t retry_after_s = 0;  ///< refused as rate_limited: seconds until the token's bucket has room

  static admission_outcome stored(std::int64_t row_id, std::int64_t cost_nusd, std::string cost_source);
  static admission_outcome duplicate(std::int64_t first_id);
  static admission_outcome refused(refusal why, std::string field = {}, std::string detail = {},
                                   std::int64_t retry_after_s = 0);
  /// An event (or a request) that broke a rule of API.md.
  static admission_outcome invalid(validation_error error);

  bool stored_or_duplicate() const noexcept { return what != result::refused; }
};

/// The per-token rate limit, as admission asks it once the token is known to exist and is active (so made-up
/// tokens never create buckets). The server's limiter implements it; a request that no limit applies to passes
/// nullptr instead.
class token_quota {
 public:
  struct verdict {
    bool allowed = true;
    std::int64_t retry_after_s = 0;
  };
  virtual ~token_quota() = default;
  /// Charges one event to the token's bucket.
  virtual verdict charge(std::string_view tracking_token) = 0;
};

/// How one event is admitted: when it arrived, which way it came in, and what limits and prices apply.
struct admission_request {
  std::int64_t received_us = 0;        ///< the server's clock; also the timestamp of an event that gave none
  std::string_view source = "ingest";  ///< stored with the row: ingest | log
  token_quota* quota = nullptr;        ///< nullptr: no rate limit applies
  /// The price table to use; nullptr: the one current at the call. A batch pins one table for all its events, so
  /// a reload half-way through cannot price one request two ways.
  const pricing::price_table* prices = nullptr;
};

/// Checks in this order, each refusal stopping the rest: the tracking token exists (unknown_token), is active
/// (inactive_token), and its bucket has room (rate_limited); then the event is priced and handed to the writer
/// (queue_full and shutting_down when it cannot take it), and the outcome is known once its batch committed
/// (stored, duplicate, or storage_failed). An event without a tracking token (only POST /log accepts one) belongs
/// to no token: no token checks, no bucket.
/// Thread-safety: admit() may be called from every IO thread at once. `done` runs exactly once: on the calling
/// thread for a refusal decided before the writer, on the writer thread otherwise.
class admission_service {
 public:
  using completion = std::function<void(admission_outcome)>;
  using price_source = std::atomic<std::shared_ptr<const pricing::price_table>>;

  /// Keeps references: all three outlive every request.
  admission_service(token_registry& tokens, group_commit_writer& writer, price_source& prices);

  void admit(usage_event&& event, const admission_request& request, completion done);

  /// The price table in force now (a batch pins it for its events).
  std::shared_ptr<const pricing::price_table> current_prices() const;

 private:
  token_registry& tokens_;
  group_commit_writer& writer_;
  price_source& prices_;
};

}  // namespace cg::ingest
