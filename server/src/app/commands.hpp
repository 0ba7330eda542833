#pragma once
// The binary's subcommands besides serving: `price`, `reprice`, `migrate-db` and `import-v03`.

#include "cg/storage/v03_import.hpp"

#include <boost/json/object.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cg::server {

/// The value of `argv[i]` when it is `flag` (the value is the next argument, which this consumes) or `flag=value`;
/// nullopt for any other argument, so `--tokens` is not taken for `--token`.
std::optional<std::string> flag_value(std::string_view flag, int argc, const char* const* argv, int& i);

/// `cost-guardian import-v03 --from PATH [--dry-run] [--json]`: the upgrade from the Flask app, with its summary.
int run_import_v03_command(int argc, const char* const* argv);

/// The upgrade's summary as one JSON object (the server logs it at start; `import-v03 --json` prints it).
boost::json::object v03_report_json(const storage::v03_report& report, const std::filesystem::path& file);
/// The same as a table for people: old app and Cost Guardian side by side.
std::string v03_report_text(const storage::v03_report& report, const std::filesystem::path& file);

/// `cost-guardian price [settings flags]`: JSON lines on stdin → one JSON line of prices each on stdout.
int run_price_command(int argc, const char* const* argv);

/// `cost-guardian reprice --start DATE --end DATE [--token ID] [--source v0.3-import] [--dry-run] [settings flags]`.
int run_reprice_command(int argc, const char* const* argv);

/// `cost-guardian migrate-db --from sqlite:PATH --to postgresql://…`: copies tokens and events, then verifies.
int run_migrate_db_command(int argc, const char* const* argv);

}  // namespace cg::server
