#include "cg/storage/schema.hpp"

#include "cg/storage/v03_import.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <optional>
#include <string_view>

namespace cg::storage {

namespace {

constexpr int v03_upgrade_version = 4;

struct migration_context {
  int from_version;  ///< the database's version before this migrate() began
  const migration_observer& observer;
  const std::filesystem::path& backup;
};

// Version 1: the whole schema of Cost Guardian 0.4. STRICT tables (SQLite 3.37+) refuse a value of the wrong type
// instead of storing it, so an integer column never ends up holding text.
//
// tracking_tokens: a deleted token keeps its row (deleted_at set, active 0) so its events keep their label; the label
// is unique only among undeleted tokens, hence a partial index rather than a UNIQUE column.
//
// usage_events: UNIQUE(token_id, event_id) is the dedupe key. A NULL event_id never equals another NULL, so events
// sent without an event_id are never deduplicated, which is what we want. token_id is NULL only for rows imported from
// v0.3 that had no token. The three indexes serve the time, model and token filters of /data, /costs and the export;
// the UNIQUE index also serves the duplicate lookup.
constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE tracking_tokens (
  id           INTEGER PRIMARY KEY,
  label        TEXT    NOT NULL,
  token        TEXT    NOT NULL UNIQUE,
  active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER,
  usage_count  INTEGER NOT NULL DEFAULT 0,
  deleted_at   INTEGER
) STRICT;

CREATE UNIQUE INDEX tracking_tokens_live_label ON tracking_tokens (label) WHERE deleted_at IS NULL;

CREATE TABLE usage_events (
  id                 INTEGER PRIMARY KEY,
  ts                 INTEGER NOT NULL,
  received_at        INTEGER NOT NULL,
  token_id           INTEGER REFERENCES tracking_tokens (id),
  event_id           TEXT,
  provider           TEXT    NOT NULL DEFAULT '',
  model              TEXT    NOT NULL,
  input_tokens       INTEGER NOT NULL DEFAULT 0,
  output_tokens      INTEGER NOT NULL DEFAULT 0,
  total_tokens       INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens   INTEGER NOT NULL DEFAULT 0,
  cost_nusd          INTEGER NOT NULL DEFAULT 0,
  cost_source        TEXT    NOT NULL,
  price_ref          TEXT    NOT NULL DEFAULT '',
  source             TEXT    NOT NULL,
  user               TEXT,
  session_id         TEXT,
  session_type       TEXT,
  project            TEXT,
  feature            TEXT,
  environment        TEXT,
  meta               TEXT,
  UNIQUE (token_id, event_id)
) STRICT;

CREATE INDEX usage_events_ts ON usage_events (ts);
CREATE INDEX usage_events_model_ts ON usage_events (model, ts);
CREATE INDEX usage_events_token_ts ON usage_events (token_id, ts);
)sql";

// Until version 4, this step also imported a v0.3 database, reading none of its camelCase columns: step 4 now
// imports (from version 0) or repairs what that import lost.
void migrate_to_v1(database& db, const migration_context&) { db.exec(schema_v1); }

// /health proves the disk takes a write of realistic size: one row whose blob is rewritten by every probe.
constexpr std::string_view schema_v2 = R"sql(
CREATE TABLE health_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  written_at INTEGER NOT NULL,
  filler     BLOB NOT NULL
) STRICT;
)sql";

void migrate_to_v2(database& db, const migration_context&) { db.exec(schema_v2); }

// The admin filters that look for a needle: one session, one user. Without an index, a /data page for a session of
// 20 events scanned all 10 million rows of the benchmark database (3.5 s); with one it is a single seek. Partial, so
// events that carry no session or user cost nothing. Entries end in ts (and the rowid), so a filtered page comes out
// of the index already in order. The other attribution filters (provider, project, feature, environment,
// session_type) have few distinct values and are served by the time range.
constexpr std::string_view schema_v3 = R"sql(
CREATE INDEX usage_events_session_ts ON usage_events (session_id, ts) WHERE session_id IS NOT NULL;
CREATE INDEX usage_events_user_ts ON usage_events (user, ts) WHERE user IS NOT NULL;
)sql";

void migrate_to_v3(database& db, const migration_context&) { db.exec(schema_v3); }

// A Cost Guardian v0.3 (or v0.2) database: its usage_log and ingest_tokens copied into the tables above, checked
// row by row, in this step's transaction (v03_import.cpp). The old tables are only read.
void migrate_to_v4(database& db, const migration_context& context) {
  detail::upgrade_v03(db, context.from_version, context.observer, context.backup);
}

// What kind of model call an event was (chat, embeddings, ...): optional, so old rows stay null. Appended last, as
// the CSV column is. A file whose user_version was set back after this step ran (by hand, or by a test that fakes an
// earlier release) already has the column, and SQLite has no ADD COLUMN IF NOT EXISTS: look first.
constexpr std::string_view schema_v5 = "ALTER TABLE usage_events ADD COLUMN operation TEXT";

void migrate_to_v5(database& db, const migration_context&) {
  statement present(db, "SELECT 1 FROM pragma_table_info('usage_events') WHERE name = 'operation'");
  if (!present.step()) db.exec(schema_v5);
}

struct migration {
  int version;
  std::string_view summary;
  void (*apply)(database&, const migration_context&);
};

// Append only: a released step never changes, a change of schema is a new step.
constexpr std::array migrations{
    migration{1, "tracking tokens and usage events", &migrate_to_v1},
    migration{2, "health probe table", &migrate_to_v2},
    migration{3, "indexes for the session_id and user filters", &migrate_to_v3},
    migration{v03_upgrade_version, "import (or repair of an earlier import) of a Cost Guardian v0.3 database",
              &migrate_to_v4},
    migration{5, "the operation column of usage events", &migrate_to_v5},
};

void refuse_newer(database& db, int version) {
  if (version > latest_schema_version()) {
    throw storage_error(SQLITE_ERROR,
                        fmt::format("database '{}' has schema version {}: it was written by a newer Cost Guardian, "
                                    "and this build understands up to version {}. Run the newer version, or restore "
                                    "a backup made before the upgrade.",
                                    db.path().string(), version, latest_schema_version()));
  }
}

}  // namespace

int latest_schema_version() noexcept {
  return migrations.back().version;
}

int schema_version(database& db) {
  statement query(db, "PRAGMA user_version");
  query.step();
  return static_cast<int>(query.column_int64(0));
}

void migrate(database& db, const migration_observer& observer, const std::filesystem::path& backup) {
  int current = schema_version(db);
  refuse_newer(db, current);
  const migration_context context{current, observer, backup};
  // From version 0 (a new file, or one the Flask app wrote) every step runs in one transaction: a v0.3 import that
  // stops on a row leaves the file as it was, and the next start imports afresh rather than taking the half-made
  // schema for an earlier release's work. Later upgrades commit step by step.
  const bool all_at_once = current == 0;
  std::optional<transaction> whole;
  if (all_at_once) whole.emplace(db);
  for (const migration& step : migrations) {
    if (step.version <= current) continue;
    std::optional<transaction> tx;
    if (!all_at_once) tx.emplace(db);
    // Read again under the write lock: another process may have migrated since the first read.
    current = schema_version(db);
    refuse_newer(db, current);
    if (step.version <= current) continue;
    try {
      step.apply(db, context);
      db.exec(fmt::format("PRAGMA user_version = {}", step.version));
      if (tx) tx->commit();
    } catch (const storage_error& e) {
      throw storage_error(e.extended_code(),
                          fmt::format("schema migration to version {} ({}) failed and was rolled back: {}",
                                      step.version, step.summary, e.what()));
    }
    current = step.version;
  }
  if (whole) whole->commit();
}

void require_current_schema(database& db) {
  const int version = schema_version(db);
  refuse_newer(db, version);
  if (version < latest_schema_version()) {
    throw storage_error(SQLITE_ERROR, fmt::format("database '{}' has schema version {}, this build needs version {}: "
                                                  "it must be migrated by a read-write connection first",
                                                  db.path().string(), version, latest_schema_version()));
  }
}

database open_database(const std::filesystem::path& path, durability d, const migration_observer& observer) {
  // Before the open below switches the file to WAL: the copy is the file as the old app left it.
  std::filesystem::path backup;
  if (observer.backup && detail::v03_upgrade_pending(path, v03_upgrade_version)) backup = backup_database_file(path);
  database db(path, open_mode::read_write, d);
  migrate(db, observer, backup);
  return db;
}

}  // namespace cg::storage
