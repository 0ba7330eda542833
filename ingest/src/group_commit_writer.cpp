#include "cg/ingest/group_commit_writer.hpp"

#include "cg/values/time.hpp"

#include <pthread.h>

#include <exception>
#include <utility>

namespace cg::ingest {

group_commit_writer::group_commit_writer(std::unique_ptr<storage::connection> db, options opts)
    : db_(std::move(db)), opts_(opts), running_(true), thread_([this] { thread_main(); }) {}

group_commit_writer::~group_commit_writer() { stop(); }

submit_status group_commit_writer::submit(storage::event_row row, write_completion done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return submit_status::stopped;
    if (queued_events_ >= opts_.queue_capacity) return submit_status::queue_full;
    queue_.emplace_back(pending_event{std::move(row), std::move(done)});
    ++queued_events_;
  }
  wake_.notify_one();
  return submit_status::queued;
}

submit_status group_commit_writer::run(write_task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return submit_status::stopped;
    queue_.emplace_back(std::move(task));
  }
  wake_.notify_one();
  return submit_status::queued;
}

submit_status group_commit_writer::probe(std::function<void(bool, const std::string&)> done) {
  return run([this, done = std::move(done)](storage::connection& db) {
    std::string error;
    try {
      // A write of realistic size (64 KiB, more than a typical batch), committed and synced like a batch: a disk
      // with room for a few pages but not for events must not look healthy.
      db.write_probe(values::now_us());
    } catch (const std::exception& e) {
      error = e.what();
    }
    {
      std::lock_guard lock(mutex_);
      if (error.empty()) {
        last_commit_failed_ = false;
      } else {
        last_commit_failed_ = true;
        last_error_ = error;
      }
    }
    done(error.empty(), error);
  });
}

void group_commit_writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

group_commit_writer::stats_snapshot group_commit_writer::stats() const {
  std::lock_guard lock(mutex_);
  return {queued_events_, batches_, rows_committed_, failed_batches_, last_commit_failed_, last_error_, running_};
}

void group_commit_writer::thread_main() {
  pthread_setname_np(pthread_self(), "cg-writer");  // shows in top -H, perf and gdb
  std::vector<pending_event> batch;
  batch.reserve(opts_.max_batch);

  for (;;) {
    std::optional<write_task> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, and everything queued has been committed

      // Group commit: take every event already waiting, up to max_batch. Rows that arrive while this batch
      // commits form the next one, so batches grow by themselves under load without delaying a lone event.
      // max_delay (off by default) additionally lets a small batch wait for company.
      const auto deadline = std::chrono::steady_clock::now() + opts_.max_delay;
      for (;;) {
        while (!queue_.empty() && batch.size() < opts_.max_batch &&
               std::holds_alternative<pending_event>(queue_.front())) {
          batch.push_back(std::move(std::get<pending_event>(queue_.front())));
          queue_.pop_front();
          --queued_events_;
        }
        if (batch.empty() || batch.size() >= opts_.max_batch || opts_.max_delay.count() == 0 || stopping_ ||
            (!queue_.empty() && !std::holds_alternative<pending_event>(queue_.front())))
          break;
        if (!wake_.wait_until(lock, deadline, [&] { return stopping_ || !queue_.empty(); })) break;
      }
      if (batch.empty()) {
        task = std::move(std::get<write_task>(queue_.front()));
        queue_.pop_front();
      }
    }

    if (task) {
      // A task reports its own errors through whatever it captured; one that throws must not kill the writer.
      try {
        (*task)(*db_);
      } catch (...) {
      }
      continue;
    }
    commit(batch);
    batch.clear();
  }

  std::lock_guard lock(mutex_);
  running_ = false;
}

void group_commit_writer::commit(std::vector<pending_event>& batch) {
  std::vector<storage::event_row> rows;
  rows.reserve(batch.size());
  for (auto& pending : batch) rows.push_back(std::move(pending.row));

  std::vector<storage::insert_outcome> outcomes;
  std::string error;
  const auto began = std::chrono::steady_clock::now();
  try {
    outcomes = db_->commit_batch(rows);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (opts_.observe) opts_.observe(batch_report{rows.size(), std::chrono::steady_clock::now() - began, error.empty()});

  {
    std::lock_guard lock(mutex_);
    if (error.empty()) {
      ++batches_;
      rows_committed_ += rows.size();
      last_commit_failed_ = false;
    } else {
      ++failed_batches_;
      last_commit_failed_ = true;
      last_error_ = error;
    }
  }

  // Acknowledge only now: COMMIT has returned, or the whole batch was rolled back and nothing was stored.
  struct batch_notification {
    std::vector<write_completion> done;
    std::vector<write_outcome> results;
    void operator()() {
      for (std::size_t i = 0; i < done.size(); ++i) done[i](results[i]);
    }
  };
  batch_notification notify;
  notify.done.reserve(batch.size());
  notify.results.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    write_outcome outcome;
    if (error.empty()) {
      outcome.result = outcomes[i].duplicate ? write_outcome::status::duplicate : write_outcome::status::created;
      outcome.id = outcomes[i].id;
    } else {
      outcome.result = write_outcome::status::storage_failed;
      outcome.error = error;
    }
    notify.done.push_back(std::move(batch[i].done));
    notify.results.push_back(std::move(outcome));
  }
  if (opts_.deliver)
    opts_.deliver(std::move(notify));
  else
    notify();
}

}  // namespace cg::ingest
