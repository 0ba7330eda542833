#include "postgres_connection.hpp"

#include "pg_cost_report.hpp"
#include "pg_event_reader.hpp"
#include "pg_event_store.hpp"
#include "pg_maintenance.hpp"
#include "pg_partitions.hpp"
#include "pg_schema.hpp"
#include "pg_session.hpp"
#include "pg_token_store.hpp"

#include "cg/values/time.hpp"

#include <chrono>
#include <cstring>
#include <random>
#include <set>
#include <utility>

namespace cg::storage {

namespace {

// Writes are short; a statement that runs this long is stuck behind a lock or a server in trouble, and the batch is
// better answered with 503 than waited for. Reads (reports over years, exports) get longer.
constexpr std::string_view writer_setup = "SET statement_timeout = '60s'";
constexpr std::string_view reader_setup_timeout = "SET statement_timeout = '300s'";

template <class Row>
std::set<pg::month> months_of(std::span<const Row> rows) {
  std::set<pg::month> months;
  for (const auto& row : rows) months.insert(pg::month_of(row.ts_us));
  return months;
}

/// A storage::connection to PostgreSQL. Each job is one of the classes beside it (pg::event_store,
/// pg::token_store, pg::event_reader, pg::maintenance, pg::run_cost_report), as on SQLite; this class gives them the
/// common interface, reconnects and retries around them (run()), and keeps the months it knows to be partitioned.
/// Thread-safety: none; a connection belongs to one thread at a time (the writer, or one reader of the pool).
class postgres_connection final : public connection {
 public:
  postgres_connection(pg::session_settings settings, postgres_options options)
      : session_(std::move(settings)), options_(options) {}

  std::string_view backend_name() const noexcept override { return "postgresql"; }

  pg::session& session() noexcept { return session_; }

  std::vector<insert_outcome> commit_batch(std::span<const event_row> rows) override;
  tracking_token_row create_token(const std::string& label, const std::string& token, std::int64_t now_us) override {
    return run([&] { return tokens().create(label, token, now_us); });
  }
  bool set_token_active(std::int64_t id, bool active) override {
    return run([&] { return tokens().set_active(id, active); });
  }
  bool remove_token(std::int64_t id, std::int64_t now_us) override {
    return run([&] { return tokens().remove(id, now_us); });
  }
  std::int64_t reset_usage() override {
    return run([&] { return maintenance().reset_usage(); });
  }
  void write_probe(std::int64_t now_us) override;
  std::int64_t apply_costs(std::span<const cost_update> updates) override {
    if (updates.empty()) return 0;
    return run([&] { return events().apply_costs(updates); });
  }
  retention_result drop_events_before(std::int64_t cutoff_us) override {
    return run([&] { return maintenance().drop_events_before(cutoff_us, months_); });
  }
  std::int64_t import_tokens(std::span<const tracking_token_row> rows) override {
    if (rows.empty()) return 0;
    return run([&] { return maintenance().import_tokens(rows); });
  }
  std::int64_t import_events(std::span<const stored_event> rows) override {
    if (rows.empty()) return 0;
    const std::set<pg::month> months = months_of(rows);
    return run([&] {
      months_.ensure(months);
      return maintenance().import_events(rows);
    });
  }
  void prepare_months(std::int64_t now_us) override {
    const std::set<pg::month> months = pg::months_around(now_us);
    run([&] { months_.ensure(months); });
  }

  std::vector<tracking_token_row> list_tokens() override {
    return run([&] { return tokens().list(); });
  }
  std::vector<tracking_token_row> all_tokens() override {
    return run([&] { return tokens().list_all(); });
  }
  std::size_t for_each_event(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                             const std::optional<event_position>& after, std::size_t limit,
                             const std::function<void(const stored_event&)>& visit) override {
    return run([&] { return reader().for_each(filter, rules, order, after, limit, visit); });
  }
  std::vector<std::string> models() override {
    return run([&] { return reader().models(); });
  }
  std::int64_t max_event_id() override {
    return run([&] { return reader().max_id(); });
  }
  cost_report run_cost_report(const cost_report_request& request, std::span<const project_rule> rules) override {
    return run([&] { return pg::run_cost_report(session_, request, rules); });
  }
  database_figures figures() override {
    return run([&] { return reader().figures(); });
  }
  void check_read() override {
    run([&] { reader().check_read(); });
  }
  std::vector<priced_event> reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                         std::size_t limit) override {
    return run([&] { return reader().reprice_page(filter, after_id, limit); });
  }

 private:
  template <class F>
  auto run(F&& call) -> decltype(call());

  pg::event_store events() { return pg::event_store(session_, options_.insert_method); }
  pg::token_store tokens() { return pg::token_store(session_); }
  pg::event_reader reader() { return pg::event_reader(session_); }
  pg::maintenance maintenance() { return pg::maintenance(session_, options_.insert_method); }

  pg::session session_;
  postgres_options options_;
  pg::partition_cache months_{session_};
  std::mt19937_64 probe_random_{std::random_device{}()};
};

// Every call goes through run(): it reconnects when the connection is down (with backoff), and when the first
// statement of the call finds that the connection died while idle (a server restart, a network blip, an idle
// timeout), nothing of the call reached the server, so it connects again and runs the call once more. Every call
// starts with a read or a BEGIN for this reason; a failure after the first statement is never retried (a COMMIT
// whose answer was lost may have committed).
template <class F>
auto postgres_connection::run(F&& call) -> decltype(call()) {
  session_.ensure_open();
  const auto trips = session_.round_trips();
  const auto generation = session_.generation();
  try {
    return call();
  } catch (const storage_error& e) {
    if (!e.is_unavailable() || session_.round_trips() != trips || session_.generation() != generation) throw;
    session_.ensure_open();
    return call();
  }
}

std::vector<insert_outcome> postgres_connection::commit_batch(std::span<const event_row> rows) {
  if (rows.empty()) return {};
  const std::set<pg::month> months = months_of(rows);
  for (int attempt = 0;; ++attempt) {
    try {
      return run([&] {
        months_.ensure(months);
        return events().insert_batch(rows);
      });
    } catch (const storage_error&) {
      // 23514 from the insert: a month's partition vanished since we listed them (another gateway's retention
      // dropped it). List again, recreate, and try once more; the failed attempt stored nothing.
      if (attempt > 0 || session_.last_sqlstate() != "23514") throw;
      months_.forget();
    }
  }
}

void postgres_connection::write_probe(std::int64_t now_us) {
  // 64 KiB that do not compress, so the probe writes what it claims to.
  std::string filler(64 * 1024, '\0');
  for (std::size_t i = 0; i < filler.size(); i += 8) {
    const std::uint64_t word = probe_random_();
    std::memcpy(filler.data() + i, &word, 8);
  }
  run([&] {
    session_.exec_prepared("cg_write_probe",
                           "INSERT INTO health_probe (id, written_at, filler) VALUES (1, $1::bigint, $2::bytea) "
                           "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, filler = excluded.filler",
                           pg::query_params().add(now_us).add_binary(filler), "writing the health probe");
  });
}

}  // namespace

std::unique_ptr<connection> open_postgres_writer(const database_location& where, const postgres_options& options) {
  auto c = std::make_unique<postgres_connection>(
      pg::session_settings{.url = where.url, .setup = {std::string(writer_setup)}}, options);
  pg::migrate(c->session());
  c->prepare_months(values::now_us());
  return c;
}

std::unique_ptr<connection> open_postgres_reader(const database_location& where) {
  auto c = std::make_unique<postgres_connection>(
      pg::session_settings{.url = where.url,
                           .setup = {"SET default_transaction_read_only = on", std::string(reader_setup_timeout)}},
      postgres_options{});
  pg::require_current_schema(c->session());
  return c;
}

}  // namespace cg::storage
