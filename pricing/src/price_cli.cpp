#include "cg/pricing/price_cli.hpp"

#include "cg/pricing/price_table.hpp"

#include "exact_json.hpp"

#include "cg/values/json_text.hpp"
#include "cg/values/timestamp.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace cg::pricing {
namespace {

namespace json = boost::json;

constexpr std::size_t read_block = std::size_t{1} << 20;
constexpr std::size_t write_block = std::size_t{1} << 20;

using values::append_json_string;

void append_optional_string(std::string& out, const std::optional<std::string>& text) {
  if (text) {
    append_json_string(out, *text);
  } else {
    out += "null";
  }
}

void append_amount(std::string& out, const std::optional<usd_amount>& amount) {
  if (!amount) {
    out += "null";
    return;
  }
  if (!std::isfinite(amount->value)) {
    out += amount->decimal;  // beyond any double: the exact decimal is valid JSON as well
    return;
  }
  std::array<char, 32> buffer{};
  const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), amount->value).ptr;
  out.append(buffer.data(), end);
}

/// A string-or-null field: nullopt when absent or null, the text when a string; `bad` when anything else.
std::optional<std::string_view> optional_string(const json::object& line, std::string_view key, bool& bad) {
  const auto* value = line.if_contains(key);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (const auto* text = value->if_string()) return std::string_view{*text};
  bad = true;
  return std::nullopt;
}

/// Turns one input line into one output line. Thread-safety: none (one per reader).
class line_pricer {
 public:
  explicit line_pricer(const price_table& table) : table_(table) {}

  void price(std::string_view line, std::string& out) {
    // Everything the parsed line holds lives in this resource, which starts in a stack buffer and is dropped
    // whole at the end of the line: no allocation per value.
    json::monotonic_resource memory(scratch_.data(), scratch_.size());
    std::error_code ec;
    const json::value parsed = parser_.parse(line, json::storage_ptr(&memory), ec);
    if (ec) {
      write_error(out, nullptr, "not valid JSON: " + ec.message());
      return;
    }
    const auto* object = parsed.if_object();
    if (object == nullptr) {
      write_error(out, nullptr, "a line must be a JSON object");
      return;
    }
    const json::value* id = object->if_contains("id");

    bool bad = false;
    auto provider = optional_string(*object, "provider", bad);
    if (bad) return write_error(out, id, "provider: must be a string or null");
    if (!provider) provider = optional_string(*object, "provider_id", bad);
    if (bad) return write_error(out, id, "provider_id: must be a string or null");
    const auto url = optional_string(*object, "provider_api_url", bad);
    if (bad) return write_error(out, id, "provider_api_url: must be a string or null");

    const auto* model = object->if_contains("model");
    if (model == nullptr || !model->is_string()) return write_error(out, id, "model: must be a string");
    const auto* timestamp_text = object->if_contains("timestamp");
    std::optional<std::int64_t> timestamp;
    if (timestamp_text != nullptr && timestamp_text->is_string()) {
      timestamp = values::parse_timestamp(std::string_view{timestamp_text->get_string()},
                                          values::strict_rfc3339_timestamp);
    }
    if (!timestamp) return write_error(out, id, "timestamp: must be a string YYYY-MM-DDTHH:MM:SS[.fff]Z");
    const auto* usage_value_json = object->if_contains("usage");
    if (usage_value_json == nullptr || !usage_value_json->is_object()) {
      return write_error(out, id, "usage: must be an object of usage keys and numbers");
    }

    usage_.clear();
    for (const auto& [key, value] : usage_value_json->get_object()) {
      const std::string_view usage_key{key};
      if (value.is_null()) continue;  // null reads as not reported
      double quantity = 0;
      if (value.is_int64()) {
        quantity = static_cast<double>(value.get_int64());
      } else if (value.is_uint64()) {
        quantity = static_cast<double>(value.get_uint64());
      } else if (value.is_double()) {
        quantity = value.get_double();
      } else if (table_.is_usage_key(usage_key)) {
        return write_error(out, id, "usage." + std::string{usage_key} + ": must be a number");
      } else {
        continue;  // unknown keys are ignored, whatever they hold
      }
      usage_.push_back(usage_value{usage_key, quantity});
    }

    price_request request;
    request.provider = provider.value_or(std::string_view{});
    request.provider_api_url = url.value_or(std::string_view{});
    request.model = std::string_view{model->get_string()};
    request.timestamp_us = *timestamp;
    request.usage = usage_;
    const price_calculation result = table_.calculate(request);

    open_line(out, id);
    out += ",\"total_usd\":";
    append_amount(out, result.total);
    out += ",\"input_usd\":";
    append_amount(out, result.input);
    out += ",\"output_usd\":";
    append_amount(out, result.output);
    out += ",\"provider_id\":";
    append_optional_string(out, result.provider_id);
    out += ",\"model_id\":";
    append_optional_string(out, result.model_id);
    if (!result.error.empty()) {
      out += ",\"error\":";
      append_json_string(out, result.error);
    }
    out += "}\n";
  }

 private:
  static void open_line(std::string& out, const json::value* id) {
    out += "{\"id\":";
    if (id == nullptr || id->is_null()) {
      out += "null";
    } else if (const auto* text = id->if_string()) {
      append_json_string(out, std::string_view{*text});
    } else {
      out += json::serialize(*id);  // the contract says a string; anything else is echoed as it came
    }
  }

  static void write_error(std::string& out, const json::value* id, std::string_view message) {
    open_line(out, id);
    out += ",\"total_usd\":null,\"input_usd\":null,\"output_usd\":null,\"provider_id\":null,\"model_id\":null,"
           "\"error\":";
    append_json_string(out, message);
    out += "}\n";
  }

  const price_table& table_;
  detail::exact_json_parser parser_;
  std::array<unsigned char, 16384> scratch_{};
  std::vector<usage_value> usage_;
};

}  // namespace

int run_price_cli(std::istream& in, std::ostream& out, std::ostream& err, const price_table& table) {
  line_pricer pricer(table);
  std::string answers;
  answers.reserve(write_block + 4096);
  const auto flush_answers = [&]() -> bool {
    out.write(answers.data(), static_cast<std::streamsize>(answers.size()));
    answers.clear();
    return static_cast<bool>(out);
  };
  const auto answer = [&](std::string_view line) -> bool {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pricer.price(line, answers);
    return answers.size() < write_block || flush_answers();
  };

  // Lines are cut out of large blocks read straight from the stream buffer: far faster than getline on a
  // stream synchronised with stdio, and a line may span blocks.
  std::string pending;
  std::size_t start = 0;  // first byte of pending not yet answered
  std::streambuf* source = in.rdbuf();
  bool ok = true;
  while (ok && source != nullptr) {
    const std::size_t kept = pending.size();
    pending.resize(kept + read_block);
    const auto got = source->sgetn(pending.data() + kept, static_cast<std::streamsize>(read_block));
    pending.resize(kept + static_cast<std::size_t>(std::max<std::streamsize>(got, 0)));
    if (got <= 0) break;
    std::size_t scan = kept;
    for (std::size_t newline; ok && (newline = pending.find('\n', scan)) != std::string::npos; scan = newline + 1) {
      ok = answer(std::string_view{pending}.substr(start, newline - start));
      start = newline + 1;
    }
    pending.erase(0, start);
    start = 0;
  }
  if (ok && !pending.empty()) ok = answer(pending);  // a last line without a newline is still a line
  if (ok) ok = flush_answers();
  if (ok) ok = static_cast<bool>(out.flush());
  if (!ok) {
    err << "cost-guardian price: cannot write the answers\n";
    return 1;
  }
  return 0;
}

}  // namespace cg::pricing
