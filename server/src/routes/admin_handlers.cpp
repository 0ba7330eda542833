#include "routes/routes.hpp"

#include "routes/admin_requests.hpp"
#include "routes/csv_export.hpp"
#include "routes/event_json.hpp"
#include "routes/handler_support.hpp"
#include "http/query_params.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/pricing/money.hpp"
#include "cg/server/log.hpp"
#include "cg/storage/cost_report.hpp"
#include "cg/storage/event_columns.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/values/time.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <stdexcept>

namespace cg::server {

namespace json = boost::json;

namespace {

using values::now_us;

std::span<const storage::project_rule> project_rules(const services& s) { return s.cfg.project_patterns; }

void respond_bad_request(const request_ptr& ctx, const responder& respond, std::string_view field,
                         std::string_view message) {
  respond(json_error(http::status::bad_request, message, ctx->request_id, field));
}

/// The query string, decoded; answers 400 and returns nullopt when it cannot be read.
std::optional<query_map> read_query(const request_ptr& ctx, const responder& respond) {
  auto parsed = parse_query(ctx->query);
  if (auto* error = std::get_if<query_error>(&parsed)) {
    respond_bad_request(ctx, respond, error->field, error->message);
    return std::nullopt;
  }
  return std::move(std::get<query_map>(parsed));
}

/// Runs `work(db)` on a read-pool thread (never SQLite on an IO thread); storage failures become 503, a sum that
/// leaves the 64-bit range 422. `work` answers through `respond` itself.
template <typename Work>
void on_read_pool(services& s, const request_ptr& ctx, const responder& respond, Work work) {
  s.reads.post([ctx, respond, work = std::move(work)](storage::connection& db) mutable {
    try {
      work(db);
    } catch (const std::overflow_error& e) {
      respond(json_error(http::status::unprocessable_entity, e.what(), ctx->request_id));
    } catch (const std::exception& e) {
      log().write("error", "read_failed", {field("request_id", ctx->request_id), field("error", e.what())}, true);
      respond(json_error(http::status::service_unavailable, "storage unavailable, try again", ctx->request_id));
    }
  });
}

template <typename T>
json::value optional_json(const std::optional<T>& value) {
  if (!value) return nullptr;
  return json::value(*value);
}

void put_totals(json::object& o, const storage::usage_totals& t) {
  o["requests"] = t.requests;
  // Each token class under the key /data gives it.
  for (const auto& column : storage::event_columns()) {
    if (column.group == storage::column_group::token_counts)
      o[column.json_key] = t.tokens.*storage::count_member(column.tokens);
  }
  o["cost_usd"] = pricing::to_double_usd(t.cost_nusd);
  o["cost_usd_exact"] = pricing::format_usd(t.cost_nusd);
}

json::object report_json(const storage::cost_report& report, const storage::cost_report_request& request) {
  json::array group_by;
  for (const auto d : request.group_by) group_by.emplace_back(storage::report_dimension_name(d));
  json::array rows;
  for (const auto& row : report.rows) {
    json::object o;
    for (std::size_t i = 0; i < request.group_by.size(); ++i) {
      if (request.group_by[i] == storage::report_dimension::token) {
        o["ingest_token_id"] = optional_json(row.token_id);
        o["token_label"] = optional_json(row.token_label);
      } else {
        o[storage::report_dimension_name(request.group_by[i])] = optional_json(row.keys[i]);
      }
    }
    put_totals(o, row.totals);
    rows.push_back(std::move(o));
  }
  json::object totals;
  put_totals(totals, report.totals);
  return {{"group_by", std::move(group_by)},
          {"tz", request.zone.name()},
          {"rows", std::move(rows)},
          {"totals", std::move(totals)}};
}

// ---- handlers -----------------------------------------------------------------------------------------------

void handle_data(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  auto params = read_query(ctx, respond);
  if (!params) return;
  on_read_pool(s, ctx, respond, [&s, ctx, respond, params = std::move(*params)](storage::connection& db) {
    auto decoded = decode_data_query(params);
    if (auto* e = std::get_if<request_error>(&decoded)) return respond_bad_request(ctx, respond, e->field, e->message);
    const auto& q = std::get<data_query>(decoded);
    // One row more than asked says whether another page exists, so the last page never points to an empty one.
    auto rows = db.events_page(q.filter, project_rules(s), storage::event_order::newest_first, q.after, q.limit + 1);
    json::value next = nullptr;
    if (rows.size() > q.limit) {
      rows.pop_back();
      next = json::value(encode_cursor({rows.back().ts_us, rows.back().id}));
    }
    json::array data;
    data.reserve(rows.size());
    for (const auto& row : rows) data.push_back(event_json(row));
    respond(json_ok(http::status::ok, json::object{{"data", std::move(data)},
                                                   {"next_cursor", std::move(next)},
                                                   {"limit", q.limit}}));
  });
}

void handle_models(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  auto params = read_query(ctx, respond);
  if (!params) return;
  if (auto e = reject_any_params(*params)) return respond_bad_request(ctx, respond, e->field, e->message);
  on_read_pool(s, ctx, respond, [ctx, respond](storage::connection& db) {
    json::array models;
    for (auto& m : db.models()) models.emplace_back(m);
    respond(json_ok(http::status::ok, json::object{{"models", std::move(models)}}));
  });
}

void handle_costs(services& s, const request_ptr& ctx, const responder& respond, cost_route route) {
  if (!require_admin(s, ctx, respond)) return;
  auto params = read_query(ctx, respond);
  if (!params) return;
  on_read_pool(s, ctx, respond, [&s, ctx, respond, route, params = std::move(*params)](storage::connection& db) {
    auto decoded = decode_cost_query(params, route, now_us());
    if (auto* e = std::get_if<request_error>(&decoded)) return respond_bad_request(ctx, respond, e->field, e->message);
    const auto& request = std::get<storage::cost_report_request>(decoded);
    const auto report = db.run_cost_report(request, project_rules(s));
    respond(json_ok(http::status::ok, report_json(report, request)));
  });
}

void handle_export(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  auto params = read_query(ctx, respond);
  if (!params) return;
  on_read_pool(s, ctx, respond, [&s, ctx, respond, params = std::move(*params)](storage::connection& db) {
    auto decoded = decode_export_query(params);
    if (auto* e = std::get_if<request_error>(&decoded)) return respond_bad_request(ctx, respond, e->field, e->message);
    auto& q = std::get<export_query>(decoded);
    // The first page is read before the status line goes out, so a request that cannot be served gets a real
    // error status; later failures can only cut the transfer short (see body_piece::failed).
    std::shared_ptr<chunk_source> source;
    if (q.report) {
      const auto report = db.run_cost_report(*q.report, project_rules(s));
      source = std::make_shared<text_source>(report_csv(report, q.report->group_by));
    } else {
      source = event_csv_source::start(s.reads, db, project_rules(s), q.filter, ctx->request_id);
    }
    response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/csv; charset=utf-8; header=present");
    res.set(http::field::content_disposition, fmt::format("attachment; filename=\"{}\"", q.filename));
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    ctx->body_stream = std::move(source);
    respond(std::move(res));
  });
}

// Runs on the writer thread, the only writable connection, in line with ingest batches: events committed before it
// are deleted, events queued after it are kept.
void handle_reset(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  auto params = read_query(ctx, respond);
  if (!params) return;
  if (auto e = reject_any_params(*params)) return respond_bad_request(ctx, respond, e->field, e->message);
  const auto status = s.writer.run([ctx, respond](storage::connection& db) {
    response res;
    try {
      const auto deleted = db.reset_usage();
      log().write("info", "usage_reset", {field("request_id", ctx->request_id), field("deleted", deleted)}, true);
      res = json_ok(http::status::ok, json::object{{"ok", true}, {"deleted", deleted}});
    } catch (const std::exception& e) {
      log().write("error", "reset_failed", {field("request_id", ctx->request_id), field("error", e.what())}, true);
      res = json_error(http::status::service_unavailable, "storage unavailable, nothing was deleted; try again",
                       ctx->request_id);
    }
    respond(std::move(res));
  });
  if (status != ingest::submit_status::queued)
    respond(json_error(http::status::service_unavailable, "shutting down", ctx->request_id));
}

}  // namespace

void register_admin_routes(router& routes, services& s) {
  using http::verb;
  // The filters every read shares (docs/api.md, "Admin reads"), spelled out per route for /openapi.json.
  constexpr std::string_view filters =
      "start:date end:date tz model ingest_token_id:integer provider project user feature environment session_type "
      "session_id";
  constexpr std::string_view filters_and_group_by =
      "start:date end:date tz model ingest_token_id:integer provider project user feature environment session_type "
      "session_id group_by";
  routes.add(verb::get, "/data", [&s](const request_ptr& c, const responder& r) { handle_data(s, c, r); },
             {.summary = "Usage events, newest first, with keyset pagination",
              .query = "start:date end:date tz model ingest_token_id:integer provider project user feature "
                       "environment session_type session_id limit:integer cursor",
              .responses = "200:DataPage 400"});
  routes.add(verb::get, "/models", [&s](const request_ptr& c, const responder& r) { handle_models(s, c, r); },
             {.summary = "Distinct model names, sorted", .responses = "200:application/json 400"});
  struct cost_route_entry {
    std::string_view path;
    cost_route route;
    route_doc doc;
  };
  const cost_route_entry cost_routes[] = {
      {"/costs", cost_route::costs,
       {.summary = "Aggregate cost report: requests, token classes and cost per group",
        .query = filters_and_group_by,
        .responses = "200:application/json 400 422"}},
      {"/costs/daily", cost_route::daily,
       {.summary = "One day's costs by model (/costs with that day and group_by=model)",
        .query = "date tz model ingest_token_id:integer provider project user feature environment session_type "
                 "session_id",
        .responses = "200:application/json 400 422"}},
      {"/costs/range", cost_route::range,
       {.summary = "Costs per day between start and end (/costs with group_by=day)",
        .query = "start:date! end:date! tz model ingest_token_id:integer provider project user feature environment "
                 "session_type session_id",
        .responses = "200:application/json 400 422"}},
      {"/costs/summary/weekly", cost_route::weekly,
       {.summary = "Costs per ISO week (/costs with group_by=week)", .query = filters,
        .responses = "200:application/json 400 422"}},
      {"/costs/summary/monthly", cost_route::monthly,
       {.summary = "Costs per month (/costs with group_by=month)", .query = filters,
        .responses = "200:application/json 400 422"}},
      {"/costs/by-model", cost_route::by_model,
       {.summary = "Costs per model (/costs with group_by=model)", .query = filters,
        .responses = "200:application/json 400 422"}},
      {"/costs/by-project", cost_route::by_project,
       {.summary = "Costs per project (/costs with group_by=project)", .query = filters,
        .responses = "200:application/json 400 422"}},
      {"/costs/by-session-type", cost_route::by_session_type,
       {.summary = "Costs per session type (/costs with group_by=session_type)", .query = filters,
        .responses = "200:application/json 400 422"}},
  };
  for (const auto& entry : cost_routes) {
    routes.add(
        verb::get, std::string(entry.path),
        [&s, route = entry.route](const request_ptr& c, const responder& r) { handle_costs(s, c, r, route); },
        entry.doc);
  }
  routes.add(verb::get, "/export.csv", [&s](const request_ptr& c, const responder& r) { handle_export(s, c, r); },
             {.summary = "Streaming CSV of events, or of the /costs report with group_by",
              .query = filters_and_group_by,
              .responses = "200:text/csv 400 422"});
  routes.add(verb::delete_, "/reset", [&s](const request_ptr& c, const responder& r) { handle_reset(s, c, r); },
             {.summary = "Delete every usage event; tokens stay, their usage counts restart",
              .responses = "200:application/json 400"});
}

}  // namespace cg::server
