#include "cg/storage/event_columns.hpp"

#include <array>

namespace cg::storage {

namespace {

using enum column_type;
using enum column_group;

constexpr std::string_view count_schema = R"({"type": "integer", "minimum": 0})";
constexpr std::string_view string_schema = R"({"type": "string"})";

// The order is the CSV's, fixed since 0.4: append new columns at the end. A token count names its class and is found
// by it (count_member), so it needs no accessor; the six travel together as pricing::token_counts.
constexpr std::array columns{
    event_column{.name = "id", .type = integer, .group = identity, .origin = column_origin::row_id,
                 .csv_header = "id", .json_key = "id", .seed_json_key = "id",
                 .description = "The event's id, unique in this database; ascending in the order events were stored."},
    event_column{.name = "ts", .type = timestamp, .group = time, .csv_header = "timestamp", .json_key = "timestamp",
                 .seed_json_key = "timestamp", .request_key = "timestamp",
                 .request_schema = R"({"type": "string", "description": )"
                                   R"("ISO-8601 with Z or an offset; default: when received"})",
                 .read_by_reprice = true,
                 .description = "When the model call happened: the client's timestamp, else when it was received.",
                 .field = [](event_row& r) -> event_field { return &r.ts_us; }},
    event_column{.name = "received_at", .type = timestamp, .group = time, .csv_header = "received_at",
                 .json_key = "received_at", .description = "When the gateway received the event.",
                 .field = [](event_row& r) -> event_field { return &r.received_at_us; }},
    event_column{.name = "event_id", .nullable = true, .group = identity, .csv_header = "event_id",
                 .json_key = "event_id", .request_key = "event_id",
                 .request_schema = R"({"type": "string", "maxLength": 200})",
                 .description = "The client's idempotency key; null when it gave none (never deduplicated).",
                 .field = [](event_row& r) -> event_field { return &r.event_id; }},
    event_column{.name = "token_id", .type = integer, .nullable = true, .group = provenance,
                 .csv_header = "ingest_token_id", .json_key = "ingest_token_id",
                 .description = "The tracking token that sent it; null for a legacy /log event without one.",
                 .field = [](event_row& r) -> event_field { return &r.token_id; }},
    event_column{.name = "label", .nullable = true, .group = provenance, .origin = column_origin::token_label,
                 .csv_header = "token_label", .json_key = "token_label",
                 .description = "That token's label, also after the token was deleted."},
    event_column{.name = "provider", .group = identity, .csv_header = "provider", .json_key = "provider",
                 .request_key = "provider", .request_schema = string_schema, .read_by_reprice = true,
                 .description = "The provider as the client named it; may be empty.",
                 .field = [](event_row& r) -> event_field { return &r.provider; }},
    event_column{.name = "model", .group = identity, .csv_header = "model", .json_key = "model",
                 .seed_json_key = "model", .request_key = "model",
                 .request_schema = R"({"type": "string", "maxLength": 256})", .read_by_reprice = true,
                 .description = "The model id as sent.",
                 .field = [](event_row& r) -> event_field { return &r.model; }},
    event_column{.name = "input_tokens", .type = integer, .group = token_counts, .tokens = token_class::input,
                 .csv_header = "input_tokens", .json_key = "input_tokens", .seed_json_key = "promptTokens",
                 .request_key = "prompt_tokens", .request_schema = count_schema, .read_by_reprice = true,
                 .description = "The whole input, cache reads and writes included."},
    event_column{.name = "output_tokens", .type = integer, .group = token_counts, .tokens = token_class::output,
                 .csv_header = "output_tokens", .json_key = "output_tokens", .seed_json_key = "completionTokens",
                 .request_key = "completion_tokens", .request_schema = count_schema, .read_by_reprice = true,
                 .description = "The whole output, reasoning included."},
    event_column{.name = "total_tokens", .type = integer, .group = token_counts, .tokens = token_class::total,
                 .csv_header = "total_tokens", .json_key = "total_tokens", .seed_json_key = "totalTokens",
                 .request_key = "total_tokens", .request_schema = count_schema, .read_by_reprice = true,
                 .description = "At least input + output tokens (as reported when larger)."},
    event_column{.name = "cache_read_tokens", .type = integer, .group = token_counts,
                 .tokens = token_class::cache_read, .csv_header = "cache_read_tokens", .json_key = "cache_read_tokens",
                 .request_key = "cache_read_tokens", .request_schema = count_schema, .read_by_reprice = true,
                 .description = "The part of the input read from the provider's cache."},
    event_column{.name = "cache_write_tokens", .type = integer, .group = token_counts,
                 .tokens = token_class::cache_write, .csv_header = "cache_write_tokens",
                 .json_key = "cache_write_tokens", .request_key = "cache_write_tokens",
                 .request_schema = count_schema, .read_by_reprice = true,
                 .description = "The part of the input written to the provider's cache."},
    event_column{.name = "reasoning_tokens", .type = integer, .group = token_counts,
                 .tokens = token_class::reasoning, .csv_header = "reasoning_tokens", .json_key = "reasoning_tokens",
                 .request_key = "reasoning_tokens", .request_schema = count_schema, .read_by_reprice = true,
                 .description = "The part of the output spent on reasoning."},
    event_column{.name = "cost_nusd", .type = money, .group = cost, .csv_header = "cost_usd",
                 .json_key = "cost_usd_exact", .seed_json_key = "estimatedCostUSD", .request_key = "cost_usd",
                 .request_schema = R"({"type": "number", "minimum": 0})", .read_by_reprice = true,
                 .description = "The cost in USD, exact to the nano-USD (stored as integer nano-USD).",
                 .field = [](event_row& r) -> event_field { return &r.cost_nusd; }},
    event_column{.name = "cost_source", .group = cost, .csv_header = "cost_source", .json_key = "cost_source",
                 .read_by_reprice = true,
                 .description = "Who computed the cost: client, server, unpriced (cost 0) or v0.3-import.",
                 .field = [](event_row& r) -> event_field { return &r.cost_source; }},
    event_column{.name = "price_ref", .group = cost, .csv_header = "price_ref", .json_key = "price_ref",
                 .read_by_reprice = true,
                 .description = "The price a server cost used, e.g. openai/gpt-4o-mini@base; empty otherwise.",
                 .field = [](event_row& r) -> event_field { return &r.price_ref; }},
    event_column{.name = "source", .group = provenance, .csv_header = "source", .json_key = "source",
                 .description = "The way in: ingest, batch, log (legacy) or v0.3-import.",
                 .field = [](event_row& r) -> event_field { return &r.source; }},
    event_column{.name = "project", .nullable = true, .group = attribution, .csv_header = "project",
                 .json_key = "project", .request_key = "project", .request_schema = string_schema,
                 .project_patterns = true,
                 .description = "The event's project, else the one PROJECT_PATTERNS assigns, else null.",
                 .field = [](event_row& r) -> event_field { return &r.project; }},
    event_column{.name = "user", .nullable = true, .group = attribution, .csv_header = "user", .json_key = "user",
                 .request_key = "user", .request_schema = string_schema, .description = "The end user.",
                 .field = [](event_row& r) -> event_field { return &r.user; }},
    event_column{.name = "feature", .nullable = true, .group = attribution, .csv_header = "feature",
                 .json_key = "feature", .request_key = "feature", .request_schema = string_schema,
                 .description = "The product feature that made the call.",
                 .field = [](event_row& r) -> event_field { return &r.feature; }},
    event_column{.name = "environment", .nullable = true, .group = attribution, .csv_header = "environment",
                 .json_key = "environment", .request_key = "environment", .request_schema = string_schema,
                 .description = "The deployment environment (prod, staging, ...).",
                 .field = [](event_row& r) -> event_field { return &r.environment; }},
    event_column{.name = "session_type", .nullable = true, .group = attribution, .csv_header = "session_type",
                 .json_key = "session_type", .request_key = "session_type", .request_schema = string_schema,
                 .description = "The kind of session (chat, agent, batch, ...).",
                 .field = [](event_row& r) -> event_field { return &r.session_type; }},
    event_column{.name = "session_id", .nullable = true, .group = attribution, .csv_header = "session_id",
                 .json_key = "session_id", .request_key = "session_id", .request_schema = string_schema,
                 .description = "The session the call belongs to.",
                 .field = [](event_row& r) -> event_field { return &r.session_id; }},
    event_column{.name = "meta", .type = json_text, .nullable = true, .group = attribution, .csv_header = "meta",
                 .json_key = "meta", .request_key = "meta",
                 .request_schema = R"({"type": "object", "description": )"
                                   R"("Any JSON, at most 8 KiB compact and 8 levels deep"})",
                 .description = "The client's meta, as compact JSON (in CSV as its text).",
                 .field = [](event_row& r) -> event_field { return &r.meta; }},
    event_column{.name = "operation", .nullable = true, .group = identity, .csv_header = "operation",
                 .json_key = "operation", .request_key = "operation",
                 .request_schema = R"({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"})",
                 .description = "The kind of model call: chat, text_completion, embeddings, generate_content, "
                                "execute_tool, create_agent, invoke_agent (OpenTelemetry gen_ai.operation.name) or "
                                "a provider's own, such as responses; null when not given.",
                 .field = [](event_row& r) -> event_field { return &r.operation; }},
};

}  // namespace

std::span<const event_column> event_columns() noexcept { return columns; }

const event_column* find_event_column(std::string_view name) noexcept {
  for (const auto& column : columns)
    if (column.name == name) return &column;
  return nullptr;
}

std::int64_t pricing::token_counts::*count_member(token_class tokens) noexcept {
  using pricing::token_counts;
  switch (tokens) {
    case token_class::input: return &token_counts::input;
    case token_class::output: return &token_counts::output;
    case token_class::cache_read: return &token_counts::cache_read;
    case token_class::cache_write: return &token_counts::cache_write;
    case token_class::reasoning: return &token_counts::reasoning;
    case token_class::total:
    case token_class::none: break;
  }
  return &token_counts::total;
}

namespace {

// A token count is found by its class, so each entry names its class once.
event_field member_of(const event_column& column, event_row& row) noexcept {
  if (column.group == column_group::token_counts) return &(row.tokens.*count_member(column.tokens));
  return column.field(row);
}

// The accessors take a mutable row because the reader fills rows through them; reading a const row through one
// only forms a pointer, which is then handed out as a pointer to const.
const_event_field as_const(event_field field) noexcept {
  return std::visit([](auto* member) -> const_event_field { return member; }, field);
}

}  // namespace

event_field field_of(const event_column& column, stored_event& e) noexcept {
  switch (column.origin) {
    case column_origin::row_id: return &e.id;
    case column_origin::token_label: return &e.token_label;
    case column_origin::stored: break;
  }
  return member_of(column, e);
}

const_event_field field_of(const event_column& column, const stored_event& e) noexcept {
  return as_const(field_of(column, const_cast<stored_event&>(e)));
}

const_event_field field_of(const event_column& column, const event_row& row) noexcept {
  return as_const(member_of(column, const_cast<event_row&>(row)));
}

}  // namespace cg::storage
