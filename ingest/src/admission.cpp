// admission_service and admission_outcome of cg/ingest/admission.hpp.

#include "cg/ingest/admission.hpp"

#include "cg/ingest/event_row.hpp"

#include <optional>
#include <utility>

namespace cg::ingest {

admission_outcome admission_outcome::stored(std::int64_t row_id, std::int64_t cost_nusd, std::string cost_source) {
  admission_outcome o;
  o.what = result::stored;
  o.id = row_id;
  o.cost_nusd = cost_nusd;
  o.cost_source = std::move(cost_source);
  return o;
}

admission_outcome admission_outcome::duplicate(std::int64_t first_id) {
  admission_outcome o;
  o.what = result::duplicate;
  o.id = first_id;
  return o;
}

admission_outcome admission_outcome::refused(refusal why, std::string field, std::string detail,
                                             std::int64_t retry_after_s) {
  admission_outcome o;
  o.reason = why;
  o.field = std::move(field);
  o.detail = std::move(detail);
  o.retry_after_s = retry_after_s;
  return o;
}

admission_outcome admission_outcome::invalid(validation_error error) {
  return refused(error.reason, std::move(error.field), std::move(error.message));
}

admission_service::admission_service(token_registry& tokens, group_commit_writer& writer, price_source& prices)
    : tokens_(tokens), writer_(writer), prices_(prices) {}

std::shared_ptr<const pricing::price_table> admission_service::current_prices() const {
  return prices_.load(std::memory_order_acquire);
}

void admission_service::admit(usage_event&& event, const admission_request& request, completion done) {
  std::optional<std::int64_t> token_id;
  if (!event.tracking_token.empty()) {
    const auto token = tokens_.find(event.tracking_token);
    if (!token) return done(admission_outcome::refused(refusal::unknown_token, "tracking_token"));
    if (!token->active)
      return done(admission_outcome::refused(refusal::inactive_token, "tracking_token", token->label));
    // Charged only once the token is known to exist and is active: made-up tokens never create buckets.
    if (request.quota != nullptr) {
      const auto verdict = request.quota->charge(event.tracking_token);
      if (!verdict.allowed)
        return done(admission_outcome::refused(refusal::rate_limited, {}, {}, verdict.retry_after_s));
    }
    token_id = token->id;
  }

  std::shared_ptr<const pricing::price_table> pinned;
  const pricing::price_table* prices = request.prices;
  if (prices == nullptr) {
    pinned = current_prices();
    prices = pinned.get();
  }
  auto row = make_event_row(std::move(event), token_id, request.received_us, *prices, std::string(request.source));
  const auto cost = row.cost_nusd;
  auto cost_source = row.cost_source;

  // `done` moves into the writer's completion only if the writer takes the event; a refused submit leaves it here.
  auto shared_done = std::make_shared<completion>(std::move(done));
  const auto status = writer_.submit(
      std::move(row), [shared_done, cost, cost_source = std::move(cost_source)](const write_outcome& outcome) {
        switch (outcome.result) {
          case write_outcome::status::created:
            return (*shared_done)(admission_outcome::stored(outcome.id, cost, cost_source));
          case write_outcome::status::duplicate:
            return (*shared_done)(admission_outcome::duplicate(outcome.id));
          case write_outcome::status::storage_failed:
            return (*shared_done)(admission_outcome::refused(refusal::storage_failed, {}, outcome.error));
        }
      });
  if (status == submit_status::queue_full) (*shared_done)(admission_outcome::refused(refusal::queue_full));
  if (status == submit_status::stopped) (*shared_done)(admission_outcome::refused(refusal::shutting_down));
}

}  // namespace cg::ingest
