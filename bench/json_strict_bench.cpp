// What refusing repeated keys and non-finite numbers (cg/ingest/strict_json.hpp) costs on the ingest hot path.
//
// Times, on a realistic POST /ingest body and on a 100-event batch:
//   unchecked    Boost's json::parser as the hot path used it before (stack buffers, monotonic resource)
//   count check  parse_strict_json: Boost's DOM builder + a key count and an isfinite per double, then one walk
//                over the objects built (what the server runs)
//   key check    the alternative: a basic_parser handler that compares every key with the keys already read in
//                its object as it arrives (a linear scan; a real one would need a hash set for large objects)
// and the whole of parse + validation (parse_usage_event_text against unchecked parse + parse_usage_event).
//
//   build/ci/bench/json_strict_bench [rounds]
// Each round runs every variant for a fixed number of parses, interleaved so machine noise hits all alike, timed
// in the thread's CPU time; the median round is reported, as ns per body and as a ratio to the unchecked parse.

#include "cg/ingest/strict_json.hpp"
#include "cg/ingest/validation.hpp"
#include "cg/values/json_value_builder.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;

const std::string event_body = R"({
  "tracking_token": "p4YkQ2n8xR7tL0aVbW3mZs",
  "event_id": "chatcmpl-9xAbCdEfGhIjKlMnOpQrStUvWx",
  "provider": "openai",
  "model": "gpt-4o-mini-2024-07-18",
  "timestamp": "2024-06-01T10:30:00.123Z",
  "usage": {
    "prompt_tokens": 1200,
    "completion_tokens": 350,
    "total_tokens": 1550,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  },
  "user": "user-8812",
  "session_id": "sess-4f1c2a",
  "session_type": "chat",
  "project": "billing-assistant",
  "feature": "summarise-invoice",
  "environment": "production",
  "meta": {"request_ms": 842.5, "region": "eu-west-1", "retries": 0, "tags": ["invoice", "summary"]}
})";

std::string batch_body() {
  std::string body = "[";
  for (int i = 0; i < 100; ++i) {
    if (i) body += ',';
    std::string e = event_body;
    e.replace(e.find("Wx\""), 2, fmt::format("{:04}", i));
    body += e;
  }
  return body + "]";
}

/// The alternative reader: Boost's DOM builder, and every key compared as it arrives with the keys read so far in
/// its object.
class key_checking_builder : public cg::values::json_value_builder {
 public:
  key_checking_builder(unsigned char* temp, std::size_t size) : json_value_builder({}, temp, size) {}
  bool faulty() const { return faulty_; }

  bool on_object_begin(json::error_code& ec) {
    starts_.push_back(keys_.size());
    return json_value_builder::on_object_begin(ec);
  }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    const std::size_t first = starts_.back();
    starts_.pop_back();
    arena_.resize(first == keys_.size() ? arena_.size() : keys_[first].offset);
    keys_.resize(first);
    return json_value_builder::on_object_end(n, ec);
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code& ec) {
    pending_.append(s.data(), s.size());
    return json_value_builder::on_key_part(s, n, ec);
  }
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) {
    pending_.append(s.data(), s.size());
    const std::string_view key = pending_;
    for (std::size_t i = starts_.back(); i < keys_.size(); ++i)
      if (std::string_view(arena_).substr(keys_[i].offset, keys_[i].size) == key) faulty_ = true;
    keys_.push_back({arena_.size(), key.size()});
    arena_ += key;
    pending_.clear();
    return json_value_builder::on_key(s, n, ec);
  }
  bool on_double(double d, json::string_view text, json::error_code& ec) {
    faulty_ |= !std::isfinite(d);
    return json_value_builder::on_double(d, text, ec);
  }

 private:
  struct key_ref {
    std::size_t offset;
    std::size_t size;
  };
  std::vector<std::size_t> starts_;
  std::vector<key_ref> keys_;
  std::string arena_;
  std::string pending_;
  bool faulty_ = false;
};

std::size_t sink = 0;  // keeps the optimiser from dropping a parse whose result is unused

json::parse_options options() {
  json::parse_options o;
  o.max_depth = 64;
  return o;
}

/// Boost.JSON's own parse, with no check of ours: the baseline the checked readers are measured against. The value
/// lives in `resource`, as the server's bodies do.
json::value parse_unchecked(const std::string& body, json::monotonic_resource& resource) {
  unsigned char parser_storage[1024];
  json::parser parser(json::storage_ptr(), options(), parser_storage);
  parser.reset(&resource);
  json::error_code ec;
  parser.write(body.data(), body.size(), ec);
  if (ec) std::abort();
  return parser.release();
}

void unchecked(const std::string& body) {
  unsigned char value_storage[4096];
  json::monotonic_resource resource(value_storage, sizeof value_storage);
  const json::value v = parse_unchecked(body, resource);
  sink += v.is_object() ? v.get_object().size() : v.get_array().size();
}

void count_check(const std::string& body) {
  unsigned char value_storage[4096];
  json::monotonic_resource resource(value_storage, sizeof value_storage);
  unsigned char parser_storage[1024];
  const auto parsed = cg::ingest::parse_strict_json(body, &resource, {}, parser_storage, sizeof parser_storage);
  if (!parsed.ok()) std::abort();
  sink += parsed.value.is_object() ? parsed.value.get_object().size() : parsed.value.get_array().size();
}

void key_check(const std::string& body) {
  unsigned char value_storage[4096];
  json::monotonic_resource resource(value_storage, sizeof value_storage);
  unsigned char parser_storage[1024];
  json::basic_parser<key_checking_builder> parser(options(), parser_storage, sizeof parser_storage);
  parser.handler().stack().reset(&resource);
  json::error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  if (ec || parser.handler().faulty()) std::abort();
  const json::value v = parser.handler().stack().release();
  sink += v.is_object() ? v.get_object().size() : v.get_array().size();
}

constexpr std::int64_t now_us = 1'717'300'000'000'000;

void validate_unchecked(const std::string& body) {
  unsigned char value_storage[4096];
  json::monotonic_resource resource(value_storage, sizeof value_storage);
  const auto result = cg::ingest::parse_usage_event(parse_unchecked(body, resource), {}, now_us);
  if (!std::holds_alternative<cg::ingest::usage_event>(result)) std::abort();
  sink += std::get<cg::ingest::usage_event>(result).tokens.input;
}

void validate_strict(const std::string& body) {
  const auto result = cg::ingest::parse_usage_event_text(body, {}, now_us);
  if (!std::holds_alternative<cg::ingest::usage_event>(result)) std::abort();
  sink += std::get<cg::ingest::usage_event>(result).tokens.input;
}

struct variant {
  const char* name;
  std::function<void(const std::string&)> run;
  std::vector<double> ns;  // per body, one entry per round
};

/// CPU time of this thread: on a machine shared with other builds, wall time would mostly measure the others.
double thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void measure(const char* title, const std::string& body, std::vector<variant> variants, int rounds,
             std::size_t iterations) {
  for (int r = 0; r < rounds; ++r) {
    for (auto& v : variants) {
      const double start = thread_cpu_ns();
      for (std::size_t i = 0; i < iterations; ++i) v.run(body);
      v.ns.push_back((thread_cpu_ns() - start) / static_cast<double>(iterations));
    }
  }
  fmt::print("{} ({} bytes, median of {} rounds of {} parses)\n", title, body.size(), rounds, iterations);
  const double base = median(variants.front().ns);
  for (const auto& v : variants) {
    const double m = median(v.ns);
    fmt::print("  {:<34} {:>10.0f} ns  {:>6.3f}x\n", v.name, m, m / base);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const std::string batch = batch_body();
  measure("POST /ingest body, parse only", event_body,
          {{"unchecked (json::parser)", unchecked, {}},
           {"count check (parse_strict_json)", count_check, {}},
           {"key check (per-key handler)", key_check, {}}},
          rounds, 20'000);
  measure("POST /ingest/batch body of 100 events, parse only", batch,
          {{"unchecked (json::parser)", unchecked, {}},
           {"count check (parse_strict_json)", count_check, {}},
           {"key check (per-key handler)", key_check, {}}},
          rounds, 200);
  measure("POST /ingest body, parse + validate", event_body,
          {{"unchecked parse + parse_usage_event", validate_unchecked, {}},
           {"parse_usage_event_text (strict)", validate_strict, {}}},
          rounds, 20'000);
  return sink == 0 ? 1 : 0;
}
