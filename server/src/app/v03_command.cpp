// `cost-guardian import-v03`: the upgrade from the Flask app, done explicitly and loudly.
#include "app/commands.hpp"
#include "app/progress_meter.hpp"

#include "cg/pricing/money.hpp"
#include "cg/server/config.hpp"
#include "cg/storage/schema.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace cg::server {

namespace json = boost::json;

namespace {

json::object totals_json(const storage::v03_totals& t) {
  json::object sources;
  for (const auto& [source, rows] : t.rows_by_source) sources[source] = rows;
  return {{"tokens", t.tokens},
          {"rows", t.rows},
          {"rows_by_source", std::move(sources)},
          {"prompt_tokens", t.counts.input},
          {"completion_tokens", t.counts.output},
          {"total_tokens", t.counts.total},
          {"cost_usd", pricing::format_usd(t.cost_nusd)},
          {"rows_without_cost", t.unpriced_rows}};
}

/// 1234567 → "1,234,567": counts people compare by eye.
std::string number(std::int64_t value) {
  const std::string digits = fmt::format("{}", value);
  std::string out;
  const std::size_t sign = value < 0 ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

/// A temporary folder removed with everything in it when the dry run ends, however it ends.
struct scratch_folder {
  std::filesystem::path path;
  scratch_folder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cg-import-v03-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot make a temporary folder");
    path = pattern;
  }
  ~scratch_folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  scratch_folder(const scratch_folder&) = delete;
  scratch_folder& operator=(const scratch_folder&) = delete;
};

}  // namespace

json::object v03_report_json(const storage::v03_report& r, const std::filesystem::path& file) {
  json::array unknown, notes;
  for (const auto& column : r.unknown_columns) unknown.emplace_back(column);
  for (const auto& note : r.notes) notes.emplace_back(note);
  json::object out{{"event", "v03_upgrade"},
                   {"action", storage::to_string(r.action)},
                   {"file", file.string()},
                   {"generation", r.generation},
                   {"before", totals_json(r.before)},
                   {"after", totals_json(r.after)},
                   {"old_cost_real_sum", r.old_cost_real_sum},
                   {"rows_changed", r.rows_changed},
                   {"rows_missing", r.rows_missing},
                   {"rows_mismatched", r.rows_mismatched},
                   {"rows_repriced", r.rows_repriced},
                   {"placeholder_tokens", r.placeholder_tokens},
                   {"repeated_event_ids", r.repeated_event_ids},
                   {"unknown_columns", std::move(unknown)},
                   {"notes", std::move(notes)},
                   {"consistent", r.consistent()}};
  if (!r.backup.empty()) out["backup"] = r.backup.string();
  return out;
}

std::string v03_report_text(const storage::v03_report& r, const std::filesystem::path& file) {
  const auto& b = r.before;
  const auto& a = r.after;
  std::string out = fmt::format("Cost Guardian {} database {}: {}\n", r.generation.empty() ? "v0.3" : r.generation,
                                file.string(), storage::to_string(r.action));
  if (!r.backup.empty()) out += fmt::format("the file as it was: {}\n", r.backup.string());
  out += fmt::format("\n{:<26}{:>20}{:>20}\n", "", "old app", "Cost Guardian");
  const auto line = [&](std::string_view label, const std::string& before, const std::string& after) {
    out += fmt::format("{:<26}{:>20}{:>20}{}\n", label, before, after, before == after ? "" : "   <- differs");
  };
  line("tokens", number(b.tokens), number(a.tokens));
  line("rows", number(b.rows), number(a.rows));
  for (const auto& [source, rows] : b.rows_by_source) {
    const auto found = a.rows_by_source.find(source);
    line(fmt::format("  source {}", source), number(rows), number(found == a.rows_by_source.end() ? 0 : found->second));
  }
  line("prompt tokens", number(b.counts.input), number(a.counts.input));
  line("completion tokens", number(b.counts.output), number(a.counts.output));
  line("total tokens", number(b.counts.total), number(a.counts.total));
  line("cost USD", pricing::format_usd(b.cost_nusd), pricing::format_usd(a.cost_nusd));
  line("rows without a cost", number(b.unpriced_rows), number(a.unpriced_rows));
  out += fmt::format("\nThe old REAL costs add up to {:.17g} USD; each row was rounded once to nano-USD (half to even) "
                     "before adding.\n",
                     r.old_cost_real_sum);
  if (r.rows_changed > 0) out += fmt::format("rows restored from the old table: {}\n", number(r.rows_changed));
  if (r.placeholder_tokens > 0)
    out += fmt::format("deleted v0.3 tokens kept as deleted tokens for their rows: {}\n", r.placeholder_tokens);
  if (r.repeated_event_ids > 0)
    out += fmt::format("rows repeating an earlier event id, kept without the key: {}\n", r.repeated_event_ids);
  if (r.rows_repriced > 0)
    out += fmt::format("rows repriced since the import (reprice --source v0.3-import): {}\n", r.rows_repriced);
  for (const auto& column : r.unknown_columns) out += fmt::format("unknown column, not imported: {}\n", column);
  for (const auto& note : r.notes) out += fmt::format("note: {}\n", note);
  if (r.rows_missing > 0)
    out += fmt::format("MISSING: {} old rows are no longer in usage_events (deleted since the import, e.g. by "
                       "DELETE /reset)\n",
                       number(r.rows_missing));
  if (r.rows_mismatched > 0)
    out += fmt::format("MISMATCH: {} rows differ from the old table\n", number(r.rows_mismatched));
  out += r.consistent() ? fmt::format("\nEvery row matches ({} of {}).\n", number(a.rows), number(b.rows))
                        : std::string("\nThe upgrade does NOT match the old tables.\n");
  return out;
}

int run_import_v03_command(int argc, const char* const* argv) {
  std::optional<std::string> from;
  bool dry_run = false;
  bool as_json = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (auto value = flag_value("--from", argc, argv, i)) {
        from = std::move(value);
      } else if (arg == "--dry-run") {
        dry_run = true;
      } else if (arg == "--json") {
        as_json = true;
      } else if (arg == "--help" || arg == "-h") {
        std::puts(
            "Usage: cost-guardian import-v03 --from PATH [--dry-run] [--json]\n\n"
            "Upgrades the SQLite database of Cost Guardian v0.3 (the Flask app) or v0.2 at PATH in place, as the\n"
            "server does when it starts on such a file: a copy of the file as it was is kept beside it\n"
            "(PATH.v0.3-backup), then every token and usage row is copied into the new tables in one transaction,\n"
            "counts exactly and each REAL cost rounded once to nano-USD, and checked row by row. It prints, for the\n"
            "old tables and the new ones: tokens, rows, rows per source, the sums of each token count and of cost.\n"
            "A file an earlier release converted without its counts and costs is repaired from the old table; a\n"
            "file already upgraded is only compared again. --dry-run does all of it on a temporary copy and leaves\n"
            "PATH untouched. --json prints one JSON line instead of the table. Exit status: 0 when every row\n"
            "matches, 1 when anything differs or fails, 2 for a wrong command line.");
        return 0;
      } else {
        throw config_error(fmt::format("unknown argument '{}' (see --help)", arg));
      }
    }
    if (!from) throw config_error("import-v03 needs --from PATH");
    const std::filesystem::path path = *from;
    if (!std::filesystem::is_regular_file(path)) throw config_error(fmt::format("no database at {}", path.string()));
    {
      storage::database probe(path, storage::open_mode::read_only);
      if (!storage::has_v03_tables(probe))
        throw config_error(fmt::format("{} holds no Cost Guardian v0.3 tables (usage_log, ingest_tokens)",
                                       path.string()));
    }

    std::optional<storage::v03_report> report;
    progress_meter meter("rows");
    storage::migration_observer observer;
    observer.on_v03_report = [&](const storage::v03_report& r) { report = r; };
    observer.on_progress = [&](std::int64_t done, std::int64_t total) { meter.update(done, total); };

    std::optional<scratch_folder> scratch;
    std::filesystem::path target = path;
    if (dry_run) {
      scratch.emplace();
      target = scratch->path / path.filename();
      storage::copy_database_file(path, target);
      observer.backup = false;
    }
    {
      storage::database db = storage::open_database(target, storage::durability::full, observer);
      // Upgraded before (by the server or an earlier run): compare again, write nothing.
      if (!report) report = storage::verify_v03(db, observer);
    }
    meter.finish();
    if (as_json) {
      auto out = v03_report_json(*report, path);
      out["dry_run"] = dry_run;
      std::cout << json::serialize(out) << std::endl;
    } else {
      std::cout << v03_report_text(*report, path);
      if (dry_run) std::cout << "Dry run: " << path.string() << " was not changed.\n";
      std::cout.flush();
    }
    return report->consistent() ? 0 : 1;
  } catch (const config_error& e) {
    std::fprintf(stderr, "cost-guardian import-v03: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cost-guardian import-v03: %s\n", e.what());
    return 1;
  }
}

}  // namespace cg::server
