#include "app/commands.hpp"
#include "app/progress_meter.hpp"

#include "cg/ingest/reprice.hpp"
#include "cg/ingest/validation.hpp"
#include "cg/pricing/money.hpp"
#include "cg/pricing/price_cli.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/server/config.hpp"
#include "cg/storage/connection.hpp"
#include "cg/storage/database_copy.hpp"
#include "cg/values/time.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace cg::server {

namespace {

using values::us_per_day;

/// A bare date as an end bound includes that whole day, as /data's `end` does.
std::int64_t parse_bound(const std::string& name, const std::string& text, bool is_end) {
  const auto us = ingest::parse_timestamp(text);
  if (!us) throw config_error(fmt::format("{} must be a date (YYYY-MM-DD) or an ISO-8601 time, got '{}'", name, text));
  return is_end && text.size() == 10 ? *us + us_per_day : *us;
}

/// `sqlite:PATH` (or a bare path) or a PostgreSQL URL.
storage::database_location parse_location(const std::string& flag, const std::string& text) {
  storage::database_location where;
  if (storage::is_postgresql_url(text)) {
    where.url = text;
    return where;
  }
  std::string_view path = text;
  if (path.starts_with("sqlite:")) path.remove_prefix(7);
  if (path.starts_with("//")) path.remove_prefix(2);
  if (path.empty()) throw config_error(flag + " needs sqlite:PATH or a postgresql:// URL");
  where.sqlite_path = std::string(path);
  return where;
}

boost::json::value json_value(std::string text) { return boost::json::value(std::move(text)); }

boost::json::object totals_json(const storage::copy_totals& t) {
  return {{"tokens", t.tokens}, {"events", t.events}, {"cost_usd", pricing::format_usd(t.cost_nusd)}};
}

}  // namespace

std::optional<std::string> flag_value(std::string_view flag, int argc, const char* const* argv, int& i) {
  const std::string_view arg = argv[i];
  if (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '=')
    return std::string(arg.substr(flag.size() + 1));
  if (arg != flag) return std::nullopt;
  if (i + 1 >= argc) throw config_error(fmt::format("{} needs a value", flag));
  return std::string(argv[++i]);
}

int run_migrate_db_command(int argc, const char* const* argv) {
  std::optional<std::string> from_text, to_text;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (auto from = flag_value("--from", argc, argv, i)) {
        from_text = std::move(from);
      } else if (auto to = flag_value("--to", argc, argv, i)) {
        to_text = std::move(to);
      } else if (arg == "--help" || arg == "-h") {
        std::puts(
            "Usage: cost-guardian migrate-db --from sqlite:PATH --to postgresql://USER:PASS@HOST:5432/DB\n\n"
            "Copies every tracking token (deleted ones too) and every usage event, with their ids, from one database\n"
            "to another (either may be sqlite:PATH or a postgresql:// URL), creating the destination's schema if\n"
            "needed. Rows the destination already has are skipped, so an interrupted copy can be run again. Then it\n"
            "counts tokens, events and the exact cost sum on both sides and prints one JSON summary line; the exit\n"
            "status is 0 only when they agree. Stop the gateways writing to the source first, or run it again at\n"
            "the end: events stored after the copy began are not part of it.");
        return 0;
      } else {
        throw config_error(fmt::format("unknown argument '{}' (see --help)", arg));
      }
    }
    if (!from_text || !to_text) throw config_error("migrate-db needs --from and --to");
    const auto from_where = parse_location("--from", *from_text);
    const auto to_where = parse_location("--to", *to_text);
    if (!from_where.is_postgresql() && !std::filesystem::exists(from_where.sqlite_path))
      throw config_error(fmt::format("no database at {}", from_where.sqlite_path.string()));
    if (from_where.describe() == to_where.describe()) throw config_error("--from and --to are the same database");

    auto from = storage::open_writer(from_where);  // brings an older source schema up to date first
    auto to = storage::open_writer(to_where);
    // Progress with an ETA on a terminal; nothing when piped.
    progress_meter meter("events copied");
    const std::int64_t total = meter.enabled() ? from->figures().usage_rows : 0;
    const auto report =
        storage::copy_database(*from, *to, 5000, [&](std::int64_t read) { meter.update(read, total); });
    meter.finish();
    boost::json::object summary{{"event", report.verified() ? "migrated" : "migration_mismatch"},
                                {"from", from_where.describe()},
                                {"to", to_where.describe()},
                                {"tokens_added", report.tokens_added},
                                {"events_added", report.events_added},
                                {"source", totals_json(report.source)},
                                {"destination", totals_json(report.destination)},
                                {"verified", report.verified()}};
    std::cout << boost::json::serialize(summary) << std::endl;
    if (!report.verified()) {
      std::fprintf(stderr,
                   "cost-guardian migrate-db: the destination does not hold the same tokens, events and cost as the "
                   "source (it may already contain other data under the same ids); nothing was overwritten\n");
      return 1;
    }
    return 0;
  } catch (const config_error& e) {
    std::fprintf(stderr, "cost-guardian migrate-db: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cost-guardian migrate-db: %s\n", e.what());
    return 1;
  }
}

int run_price_command(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::puts(
          "Usage: cost-guardian price [--pricing-file FILE] < requests.jsonl > prices.jsonl\n\n"
          "Reads one JSON object per line until end of input and writes exactly one JSON line per input line, in\n"
          "order, with the price of that usage under the table in force (PRICING_FILE, or the embedded table):\n"
          "  in:  {\"id\", \"provider\"|\"provider_id\", \"provider_api_url\", \"model\", \"timestamp\", \"usage\": {key: n}}\n"
          "  out: {\"id\", \"total_usd\", \"input_usd\", \"output_usd\", \"provider_id\", \"model_id\"[, \"error\"]}\n"
          "Amounts are unrounded; null means no price is known. Logs go to stderr only.");
      return 0;
    }
  }
  try {
    const auto cli = parse_command_line(argc, argv);
    const auto cfg = load_config(cli, process_environment());
    const auto table = pricing::price_table::configured(cfg.pricing_file);
    std::ios::sync_with_stdio(false);
    return pricing::run_price_cli(std::cin, std::cout, std::cerr, *table);
  } catch (const config_error& e) {
    std::fprintf(stderr, "cost-guardian price: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cost-guardian price: %s\n", e.what());
    return 1;
  }
}

int run_reprice_command(int argc, const char* const* argv) {
  std::optional<std::string> start, end;
  std::optional<std::int64_t> token;
  bool dry_run = false;
  bool v03_imported = false;
  std::vector<const char*> rest{argv[0]};
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--dry-run") {
        dry_run = true;
      } else if (auto start_value = flag_value("--start", argc, argv, i)) {
        start = std::move(start_value);
      } else if (auto end_value = flag_value("--end", argc, argv, i)) {
        end = std::move(end_value);
      } else if (auto source = flag_value("--source", argc, argv, i)) {
        if (*source != "v0.3-import")
          throw config_error(fmt::format("--source takes only v0.3-import (the costs imported from the Flask app), "
                                         "got '{}'",
                                         *source));
        v03_imported = true;
      } else if (auto token_value = flag_value("--token", argc, argv, i)) {
        const std::string text = *token_value;
        std::int64_t id = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
        if (ec != std::errc{} || ptr != text.data() + text.size() || id <= 0)
          throw config_error(fmt::format("--token must be a tracking token id, got '{}'", text));
        token = id;
      } else if (arg == "--help" || arg == "-h") {
        std::puts(
            "Usage: cost-guardian reprice --start DATE --end DATE [--token ID] [--dry-run] [settings...]\n"
            "       cost-guardian reprice --source v0.3-import [--start DATE --end DATE] [--token ID] [--dry-run]\n\n"
            "Recomputes the cost of stored server-priced (and unpriced) events whose time is in [start, end] with the\n"
            "price table in force now (PRICING_FILE or the embedded one), in batches, and prints one JSON line per\n"
            "changed event and a summary line. Costs the client supplied are never touched. A bare end date includes\n"
            "that whole day. --dry-run reports without writing. --source v0.3-import reprices instead only the\n"
            "costs imported from Cost Guardian v0.3, which priced every model at one reference model's rates (all\n"
            "of them unless --start/--end narrow it). Settings flags (--db, --data-dir, --pricing-file,\n"
            "--env-file ...) are those of the server; see cost-guardian --help.");
        return 0;
      } else {
        rest.push_back(argv[i]);
      }
    }
    if (!v03_imported && (!start || !end)) throw config_error("reprice needs --start and --end");
    if (start.has_value() != end.has_value()) throw config_error("reprice needs both --start and --end, or neither");
    // The v0.3 rows of any time: the widest range a timestamp can have.
    const auto start_us = start ? parse_bound("--start", *start, false) : std::numeric_limits<std::int64_t>::min();
    const auto end_us = end ? parse_bound("--end", *end, true) : std::numeric_limits<std::int64_t>::max();
    if (start_us >= end_us) throw config_error("--start must be before --end");

    const auto cli = parse_command_line(static_cast<int>(rest.size()), rest.data());
    const auto cfg = load_config(cli, process_environment());
    const auto where = cfg.database();
    if (!where.is_postgresql() && !std::filesystem::exists(cfg.db_path))
      throw config_error(fmt::format("no database at {}", cfg.db_path.string()));
    auto table = pricing::price_table::configured(cfg.pricing_file);
    auto db = storage::open_writer(where);

    ingest::reprice_options options{start_us, end_us, token, dry_run, 1000, v03_imported};
    const auto report = ingest::reprice_events(*db, *table, options, [](const ingest::reprice_change& c) {
      boost::json::object line{{"id", c.id},
                                {"old_cost_usd", pricing::format_usd(c.old_cost_nusd)},
                                {"new_cost_usd", pricing::format_usd(c.new_cost_nusd)},
                                {"old_cost_source", c.old_source},
                                {"new_cost_source", c.new_source},
                                {"old_price_ref", c.old_price_ref},
                                {"new_price_ref", c.new_price_ref}};
      std::cout << boost::json::serialize(line) << '\n';
    });
    boost::json::object summary{{"event", dry_run ? "reprice_dry_run" : "repriced"},
                                {"pricing", table->source()},
                                {"start", start ? json_value(ingest::format_timestamp(start_us)) : nullptr},
                                {"end", end ? json_value(ingest::format_timestamp(end_us)) : nullptr},
                                {"examined", report.examined},
                                {"changed", report.changed},
                                {"old_total_usd", pricing::format_usd(report.old_total_nusd)},
                                {"new_total_usd", pricing::format_usd(report.new_total_nusd)}};
    if (token) summary["token_id"] = *token;
    if (v03_imported) summary["source"] = "v0.3-import";
    std::cout << boost::json::serialize(summary) << std::endl;
    return 0;
  } catch (const config_error& e) {
    std::fprintf(stderr, "cost-guardian reprice: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cost-guardian reprice: %s\n", e.what());
    return 1;
  }
}

}  // namespace cg::server
