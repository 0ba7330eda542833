#pragma once
// The binary's subcommands besides serving: `price`, `reprice` and `migrate-db`.

namespace cg::server {

/// `cost-guardian price [settings flags]`: JSON lines on stdin → one JSON line of prices each on stdout.
int run_price_command(int argc, const char* const* argv);

/// `cost-guardian reprice --start DATE --end DATE [--token ID] [--dry-run] [settings flags]`.
int run_reprice_command(int argc, const char* const* argv);

/// `cost-guardian migrate-db --from sqlite:PATH --to postgresql://…`: copies tokens and events, then verifies.
int run_migrate_db_command(int argc, const char* const* argv);

}  // namespace cg::server
