#include "routes/csv_export.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/pricing/money.hpp"
#include "cg/server/log.hpp"
#include "cg/storage/event_columns.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

namespace cg::server {

namespace {

constexpr std::string_view crlf = "\r\n";

void append_number_cell(std::string& out, std::int64_t value) { fmt::format_to(std::back_inserter(out), "{}", value); }

void append_number_cell(std::string& out, const std::optional<std::int64_t>& value) {
  if (value) append_number_cell(out, *value);
}

// A cell we produce ourselves (timestamps, decimals): never quoted, never neutralised.
void append_plain_cell(std::string& out, std::string_view value) { out += value; }

// One cell of the event export, spelled as its column's type says: text (and meta's JSON text) escaped, times as
// ISO-8601 UTC, money as its exact decimal USD, counts and ids as integers; null is an empty cell.
void append_cell(std::string& out, storage::column_type type, std::int64_t value) {
  switch (type) {
    case storage::column_type::timestamp: return append_plain_cell(out, ingest::format_timestamp(value));
    case storage::column_type::money: return append_plain_cell(out, pricing::format_usd(value));
    case storage::column_type::integer:
    case storage::column_type::text:
    case storage::column_type::json_text: return append_number_cell(out, value);
  }
}

void append_cell(std::string& out, storage::column_type type, const std::optional<std::int64_t>& value) {
  if (value) append_cell(out, type, *value);
}

void append_cell(std::string& out, storage::column_type, const std::string& value) { append_text_cell(out, value); }

void append_cell(std::string& out, storage::column_type, const std::optional<std::string>& value) {
  append_text_cell(out, value);
}

// The report's sums are the event columns reports sum, under the same headers and in the same order as in the
// event export.
void append_totals(std::string& out, const storage::usage_totals& t) {
  append_number_cell(out, t.requests);
  for (const auto& column : storage::event_columns()) {
    if (!column.summed()) continue;
    out += ',';
    const bool tokens = column.group == storage::column_group::token_counts;
    append_cell(out, column.type, tokens ? t.tokens.*storage::count_member(column.tokens) : t.cost_nusd);
  }
}

std::string totals_header() {
  std::string header = "requests";
  for (const auto& column : storage::event_columns()) {
    if (!column.summed()) continue;
    header += ',';
    header += column.csv_header;
  }
  return header;
}

}  // namespace

std::string_view event_csv_header() {
  static const std::string header = [] {
    std::string text;
    for (const auto& column : storage::event_columns()) {
      if (!column.exported()) continue;
      if (!text.empty()) text += ',';
      text += column.csv_header;
    }
    return text + std::string(crlf);
  }();
  return header;
}

void append_event_csv(std::string& out, const storage::stored_event& e) {
  bool first = true;
  for (const auto& column : storage::event_columns()) {
    if (!column.exported()) continue;
    if (!first) out += ',';
    first = false;
    std::visit([&](const auto* member) { append_cell(out, column.type, *member); }, storage::field_of(column, e));
  }
  out += crlf;
}

std::string report_csv(const storage::cost_report& report, std::span<const storage::report_dimension> group_by) {
  using storage::report_dimension;
  std::string out;
  for (const auto d : group_by) {
    if (d == report_dimension::token) {
      out += "ingest_token_id,token_label,";
    } else {
      out += storage::report_dimension_name(d);
      out += ',';
    }
  }
  out += totals_header();
  out += crlf;
  for (const auto& row : report.rows) {
    for (std::size_t i = 0; i < group_by.size(); ++i) {
      if (group_by[i] == report_dimension::token) {
        append_number_cell(out, row.token_id);
        out += ',';
        append_text_cell(out, row.token_label);
      } else {
        append_text_cell(out, row.keys[i]);
      }
      out += ',';
    }
    append_totals(out, row.totals);
    out += crlf;
  }
  if (!group_by.empty()) {
    // The totals row: `TOTAL` in the first column, the other key columns empty.
    out += "TOTAL";
    const std::size_t key_columns = group_by.size() + static_cast<std::size_t>(std::count(
                                                          group_by.begin(), group_by.end(), report_dimension::token));
    for (std::size_t i = 0; i < key_columns; ++i) out += ',';
    append_totals(out, report.totals);
    out += crlf;
  }
  return out;
}

// ---- event_csv_source ---------------------------------------------------------------------------------------

event_csv_source::event_csv_source(read_pool& reads, std::span<const storage::project_rule> rules,
                                   storage::event_filter filter, std::string first_piece,
                                   std::optional<storage::event_position> after, bool done, std::string request_id)
    : reads_(reads),
      rules_(rules),
      filter_(std::move(filter)),
      pending_(std::move(first_piece)),
      after_(after),
      done_(done),
      request_id_(std::move(request_id)) {}

std::shared_ptr<event_csv_source> event_csv_source::start(read_pool& reads, storage::connection& db,
                                                          std::span<const storage::project_rule> rules,
                                                          storage::event_filter filter, std::string request_id) {
  filter.max_id = db.max_event_id();
  auto source = std::make_shared<event_csv_source>(reads, rules, std::move(filter), std::string(event_csv_header()),
                                                   std::nullopt, false, std::move(request_id));
  source->read_page(db, source->pending_);
  return source;
}

void event_csv_source::read_page(storage::connection& db, std::string& out) {
  out.reserve(out.size() + page_rows * 320);
  // Rows are encoded as they are read: a page exists only as its CSV text, never as row objects.
  const auto count = db.for_each_event(filter_, rules_, storage::event_order::oldest_first, after_, page_rows,
                                      [this, &out](const storage::stored_event& row) {
                                        append_event_csv(out, row);
                                        after_ = storage::event_position{row.ts_us, row.id};
                                      });
  done_ = count < page_rows;
}

void event_csv_source::pull(std::function<void(body_piece)> deliver) {
  if (!pending_.empty()) {
    deliver(body_piece{std::exchange(pending_, {}), done_, false});
    return;
  }
  if (done_) {
    deliver(body_piece{{}, true, false});
    return;
  }
  reads_.post([self = shared_from_this(), deliver = std::move(deliver)](storage::connection& db) {
    self->read_next(db, deliver);
  });
}

void event_csv_source::read_next(storage::connection& db, const std::function<void(body_piece)>& deliver) {
  if (cancelled_.load(std::memory_order_relaxed)) return;  // the client is gone: nobody waits for this piece
  try {
    std::string piece;
    read_page(db, piece);
    deliver(body_piece{std::move(piece), done_, false});
  } catch (const std::exception& e) {
    log().write("error", "export_failed", {field("request_id", request_id_), field("error", e.what())}, true);
    deliver(body_piece{{}, false, true});
  }
}

// ---- text_source ----------------------------------------------------------------------------------------------

void text_source::pull(std::function<void(body_piece)> deliver) {
  constexpr std::size_t piece_max = 256 * 1024;
  const auto size = std::min(piece_max, text_.size() - offset_);
  body_piece piece{text_.substr(offset_, size), false, false};
  offset_ += size;
  piece.last = offset_ == text_.size();
  deliver(std::move(piece));
}

}  // namespace cg::server
