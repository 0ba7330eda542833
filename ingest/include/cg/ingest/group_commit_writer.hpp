#pragma once
/// The group-commit writer: the one thread that writes to the database, many events per transaction.

#include "cg/storage/connection.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace cg::ingest {

/// What became of one submitted event, known only after its batch's COMMIT returned (or failed).
struct write_outcome {
  enum class status { created, duplicate, storage_failed };
  status result = status::storage_failed;
  std::int64_t id = 0;       ///< the new row id, or the first row's id for a duplicate
  std::string error;         ///< why the batch failed (for the log; never sent to the client)
};

/// Called exactly once per accepted event, on the thread `options::deliver` chose (default: the writer thread):
/// hand the result to your own executor, do no work in it.
using write_completion = std::function<void(const write_outcome&)>;
/// Runs one batch's completions somewhere other than the writer thread: one hand-off per batch rather than one per
/// event, so a batch of N answers costs one cross-thread wake-up, not N.
using batch_delivery = std::function<void(std::function<void()>)>;
/// What one batch's commit looked like, for metrics.
struct batch_report {
  std::size_t rows = 0;                    ///< events in the transaction
  std::chrono::nanoseconds commit_time{};  ///< from BEGIN to COMMIT returning (or the rollback after a failure)
  bool committed = false;                  ///< false: the batch was rolled back, nothing stored
};
/// Called on the writer thread after each batch, before its completions are delivered: record and return, no work.
using batch_observer = std::function<void(const batch_report&)>;
/// A job run on the writer thread, between batches, with the only writable connection (admin writes).
using write_task = std::function<void(storage::connection&)>;

enum class submit_status { queued, queue_full, stopped };

/// Thread-safety: submit(), run() and stats() may be called from any thread; the database connection is touched
/// only by the writer's own thread.
class group_commit_writer {
 public:
  struct options {
    std::size_t max_batch = 1000;                 ///< rows per transaction at most
    std::chrono::microseconds max_delay{0};       ///< how long a batch may wait to fill once its first row arrived
    std::size_t queue_capacity = 50'000;          ///< events waiting at most; beyond it submit() says queue_full
    batch_delivery deliver;                       ///< empty: completions run on the writer thread
    batch_observer observe{};                     ///< empty: no observer
  };

  struct stats_snapshot {
    std::size_t queue_depth = 0;
    std::uint64_t batches = 0;
    std::uint64_t rows_committed = 0;
    std::uint64_t failed_batches = 0;
    bool last_commit_failed = false;
    std::string last_error;
    bool running = false;
  };

  /// Takes ownership of the writable connection (already migrated) and starts the thread.
  group_commit_writer(std::unique_ptr<storage::connection> db, options opts);
  /// Stops (draining the queue) if stop() was not called.
  ~group_commit_writer();
  group_commit_writer(const group_commit_writer&) = delete;
  group_commit_writer& operator=(const group_commit_writer&) = delete;

  /// Queues one event. `done` is called once, after the batch holding it committed or failed; it is never called
  /// when the result is not `queued`.
  submit_status submit(storage::event_row row, write_completion done);

  /// Queues a task that runs alone on the writer thread (in FIFO order with events). Tasks are not bounded by the
  /// queue capacity (admins are few); they are refused only after stop().
  submit_status run(write_task task);

  /// Proves the writer is alive and the database takes a real commit (a tiny write transaction on the writer
  /// thread, in line with events). `done(ok, error)` runs on the writer thread. A successful probe clears a failed
  /// commit's unhealthy mark, so /health recovers once the disk has room again.
  submit_status probe(std::function<void(bool ok, const std::string& error)> done);

  /// Stops taking work, commits everything already queued, and joins the thread. Idempotent.
  void stop();

  stats_snapshot stats() const;

 private:
  struct pending_event {
    storage::event_row row;
    write_completion done;
  };
  using work_item = std::variant<pending_event, write_task>;

  void thread_main();
  void commit(std::vector<pending_event>& batch);

  std::unique_ptr<storage::connection> db_;
  options opts_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<work_item> queue_;
  std::size_t queued_events_ = 0;
  bool stopping_ = false;
  bool running_ = false;

  // Written by the writer thread under mutex_, read by stats().
  std::uint64_t batches_ = 0;
  std::uint64_t rows_committed_ = 0;
  std::uint64_t failed_batches_ = 0;
  bool last_commit_failed_ = false;
  std::string last_error_;

  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace cg::ingest
