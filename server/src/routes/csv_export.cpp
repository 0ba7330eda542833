#include "routes/csv_export.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/pricing/money.hpp"
#include "cg/server/log.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cg::server {

namespace {

constexpr std::string_view crlf = "\r\n";


void append_number_cell(std::string& out, std::int64_t value) { fmt::format_to(std::back_inserter(out), "{}", value); }

void append_number_cell(std::string& out, const std::optional<std::int64_t>& value) {
  if (value) append_number_cell(out, *value);
}

// A cell we produce ourselves (timestamps, decimals): never quoted, never neutralised.
void append_plain_cell(std::string& out, std::string_view value) { out += value; }

void append_totals(std::string& out, const storage::usage_totals& t) {
  append_number_cell(out, t.requests);
  for (const auto v : {t.input_tokens, t.output_tokens, t.total_tokens, t.cache_read_tokens, t.cache_write_tokens,
                       t.reasoning_tokens}) {
    out += ',';
    append_number_cell(out, v);
  }
  out += ',';
  append_plain_cell(out, pricing::format_usd(t.cost_nusd));
}

constexpr std::string_view totals_header =
    "requests,input_tokens,output_tokens,total_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,"
    "cost_usd";

}  // namespace


std::string_view event_csv_header() {
  return "id,timestamp,received_at,event_id,ingest_token_id,token_label,provider,model,input_tokens,output_tokens,"
         "total_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_usd,cost_source,price_ref,source,"
         "project,user,feature,environment,session_type,session_id,meta\r\n";
}

void append_event_csv(std::string& out, const storage::stored_event& e) {
  append_number_cell(out, e.id);
  out += ',';
  append_plain_cell(out, ingest::format_timestamp(e.ts_us));
  out += ',';
  append_plain_cell(out, ingest::format_timestamp(e.received_at_us));
  out += ',';
  append_text_cell(out, e.event_id);
  out += ',';
  append_number_cell(out, e.token_id);
  out += ',';
  append_text_cell(out, e.token_label);
  out += ',';
  append_text_cell(out, e.provider);
  out += ',';
  append_text_cell(out, e.model);
  for (const auto v : {e.input_tokens, e.output_tokens, e.total_tokens, e.cache_read_tokens, e.cache_write_tokens,
                       e.reasoning_tokens}) {
    out += ',';
    append_number_cell(out, v);
  }
  out += ',';
  append_plain_cell(out, pricing::format_usd(e.cost_nusd));
  out += ',';
  append_text_cell(out, e.cost_source);
  out += ',';
  append_text_cell(out, e.price_ref);
  out += ',';
  append_text_cell(out, e.source);
  for (const auto* v : {&e.project, &e.user, &e.feature, &e.environment, &e.session_type, &e.session_id, &e.meta}) {
    out += ',';
    append_text_cell(out, *v);
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
  out += totals_header;
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
