#include "sqlite_connection.hpp"

#include "cg/storage/schema.hpp"

#include "sqlite_events.hpp"
#include "token_sql.hpp"

#include <fmt/format.h>

#include <optional>

namespace cg::storage {

namespace {

// Each method is one of the SQLite classes beside it (event_store, token_store, event_reader, cost_store, the cost
// report), so the SQL stays where it was measured and tested; this class only gives them the common interface.
// Thread-safety: none, like the database it owns.
class sqlite_connection final : public connection {
 public:
  explicit sqlite_connection(database db) : db_(std::move(db)) {}

  std::string_view backend_name() const noexcept override { return "sqlite"; }
  database& db() noexcept { return db_; }

  std::vector<insert_outcome> commit_batch(std::span<const event_row> rows) override {
    // Prepared once, on first use: a reader never needs the insert statements.
    if (!events_) events_.emplace(db_);
    return events_->commit_batch(rows);
  }

  tracking_token_row create_token(const std::string& label, const std::string& token, std::int64_t now_us) override {
    return token_store(db_).create(label, token, now_us);
  }
  bool set_token_active(std::int64_t id, bool active) override { return token_store(db_).set_active(id, active); }
  bool remove_token(std::int64_t id, std::int64_t now_us) override { return token_store(db_).remove(id, now_us); }
  std::int64_t reset_usage() override { return storage::reset_usage(db_); }

  void write_probe(std::int64_t now_us) override {
    // Random bytes, because SQLite skips rewriting overflow pages whose content is unchanged.
    transaction tx(db_);
    statement write(db_,
                    "INSERT INTO health_probe (id, written_at, filler) VALUES (1, ?1, randomblob(65536)) "
                    "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, filler = excluded.filler");
    write.bind(1, now_us);
    write.step();
    tx.commit();
  }

  std::int64_t apply_costs(std::span<const cost_update> updates) override { return cost_store(db_).apply(updates); }

  retention_result drop_events_before(std::int64_t cutoff_us) override {
    // SQLite has no partitions: the rows go, in one transaction, through the ts index.
    transaction tx(db_);
    const bound_sql sql = detail::delete_events_before_sql(detail::sql_dialect::sqlite, cutoff_us);
    statement remove(db_, sql.text);
    sql.bind_to(remove);
    remove.step();
    retention_result result;
    result.events_deleted = db_.changes();
    tx.commit();
    return result;
  }

  void prepare_months(std::int64_t) override {}

  std::int64_t import_tokens(std::span<const tracking_token_row> rows) override {
    transaction tx(db_);
    statement insert(db_,
                     "INSERT INTO tracking_tokens (id, label, token, active, created_at, last_seen_at, usage_count, "
                     "deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING");
    std::int64_t added = 0;
    for (const auto& t : rows) {
      insert.bind(1, t.id).bind(2, t.label).bind(3, t.token).bind(4, std::int64_t{t.active ? 1 : 0});
      insert.bind(5, t.created_at_us).bind(6, t.last_seen_at_us).bind(7, t.usage_count).bind(8, t.deleted_at_us);
      insert.step();
      added += db_.changes();
      insert.reset();
    }
    tx.commit();
    return added;
  }

  std::int64_t import_events(std::span<const stored_event> rows) override {
    transaction tx(db_);
    statement insert(db_, detail::sqlite_event_insert(true) + " ON CONFLICT DO NOTHING");
    std::int64_t added = 0;
    for (const auto& e : rows) {
      detail::bind_event(insert, e, e.id);
      insert.step();
      added += db_.changes();
      insert.reset();
    }
    tx.commit();
    return added;
  }

  std::vector<tracking_token_row> list_tokens() override { return token_store(db_).list(); }
  std::vector<tracking_token_row> all_tokens() override { return token_store(db_).list_all(); }

  std::size_t for_each_event(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                             const std::optional<event_position>& after, std::size_t limit,
                             const std::function<void(const stored_event&)>& visit) override {
    return event_reader(db_, rules).for_each(filter, order, after, limit, visit);
  }
  std::vector<std::string> models() override { return event_reader(db_).models(); }
  std::int64_t max_event_id() override { return event_reader(db_).max_id(); }

  cost_report run_cost_report(const cost_report_request& request, std::span<const project_rule> rules) override {
    return storage::run_cost_report(db_, request, rules);
  }

  database_figures figures() override {
    database_figures f;
    statement rows(db_, "SELECT count(*) FROM usage_events");
    rows.step();
    f.usage_rows = rows.column_int64(0);
    statement tokens(db_, detail::count_active_tokens_sql(detail::sql_dialect::sqlite).text);
    tokens.step();
    f.active_tokens = tokens.column_int64(0);
    statement last(db_, "SELECT received_at FROM usage_events ORDER BY id DESC LIMIT 1");
    if (last.step()) f.last_received_at_us = last.column_int64(0);
    return f;
  }

  void check_read() override {
    statement q(db_, "SELECT count(*) FROM tracking_tokens");
    q.step();
  }

  std::vector<priced_event> reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                         std::size_t limit) override {
    return cost_store(db_).next_page(filter, after_id, limit);
  }

 private:
  database db_;
  std::optional<event_store> events_;
};

}  // namespace

std::unique_ptr<connection> adopt_sqlite(database db) { return std::make_unique<sqlite_connection>(std::move(db)); }

database* sqlite_database(connection& c) noexcept {
  auto* sqlite = dynamic_cast<sqlite_connection*>(&c);
  return sqlite == nullptr ? nullptr : &sqlite->db();
}

std::unique_ptr<connection> open_sqlite_writer(const database_location& where, const migration_observer& observer) {
  return adopt_sqlite(open_database(where.sqlite_path, where.sqlite_durability, observer));
}

std::unique_ptr<connection> open_sqlite_reader(const database_location& where) {
  database db(where.sqlite_path, open_mode::read_only);
  require_current_schema(db);
  return adopt_sqlite(std::move(db));
}

}  // namespace cg::storage
