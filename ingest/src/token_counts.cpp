#include "token_counts.hpp"

#include <fmt/format.h>

#include <optional>

namespace cg::ingest::detail {

namespace json = boost::json;

namespace {

/// The token classes as reported, each with the field it came from; absent classes are nullopt.
struct reported_counts {
  std::optional<count_source> input;
  std::optional<count_source> output;
  std::optional<count_source> total;
  std::optional<count_source> cache_read;
  std::optional<count_source> cache_write;
  std::optional<count_source> reasoning;
};

enum class usage_shape { chat_completions, responses, anthropic_messages };

bool names_anthropic(std::string_view provider) noexcept {
  constexpr std::string_view anthropic = "anthropic";
  if (provider.size() != anthropic.size()) return false;
  for (std::size_t i = 0; i < provider.size(); ++i) {
    const char c = provider[i];
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != anthropic[i]) return false;
  }
  return true;
}

/// Keys decide, not values: SDKs serialise unset fields as null, and a null key still says which API answered.
/// Chat Completions keys are unique to it; the cache keys are unique to Anthropic; the remaining
/// `input_tokens`/`output_tokens` pair is shared by Responses and Anthropic, where the provider breaks the tie
/// (with no cache keys both readings give the same input and output anyway).
std::optional<usage_shape> detect_shape(const json::object& usage, std::string_view provider) {
  if (usage.contains("prompt_tokens") || usage.contains("completion_tokens") ||
      usage.contains("prompt_tokens_details") || usage.contains("completion_tokens_details")) {
    return usage_shape::chat_completions;
  }
  if (usage.contains("cache_creation_input_tokens") || usage.contains("cache_read_input_tokens")) {
    return usage_shape::anthropic_messages;
  }
  if (usage.contains("input_tokens_details") || usage.contains("output_tokens_details")) {
    return usage_shape::responses;
  }
  if (usage.contains("input_tokens") || usage.contains("output_tokens")) {
    return names_anthropic(provider) ? usage_shape::anthropic_messages : usage_shape::responses;
  }
  return std::nullopt;
}

/// Reads `usage.<details_key>.<count_key>`; the details object itself may be absent or null.
maybe_error read_detail(const json::object& usage, std::string_view details_key, std::string_view details_path,
                        std::string_view count_key, std::string_view count_path, std::int64_t max,
                        std::optional<count_source>& out) {
  out.reset();
  const json::value* details = find_member(usage, details_key);
  if (details == nullptr) return std::nullopt;
  const json::object* obj = details->if_object();
  if (obj == nullptr) {
    return bad_field(details_path, fmt::format("{} must be an object, not {}", details_path, kind_name(*details)));
  }
  return read_count(find_member(*obj, count_key), count_path, max, out);
}

maybe_error read_chat_completions(const json::object& usage, std::int64_t max, reported_counts& out) {
  if (auto e = read_count(find_member(usage, "prompt_tokens"), "usage.prompt_tokens", max, out.input)) return e;
  if (auto e = read_count(find_member(usage, "completion_tokens"), "usage.completion_tokens", max, out.output)) {
    return e;
  }
  if (auto e = read_count(find_member(usage, "total_tokens"), "usage.total_tokens", max, out.total)) return e;
  if (auto e = read_detail(usage, "prompt_tokens_details", "usage.prompt_tokens_details", "cached_tokens",
                           "usage.prompt_tokens_details.cached_tokens", max, out.cache_read)) {
    return e;
  }
  return read_detail(usage, "completion_tokens_details", "usage.completion_tokens_details", "reasoning_tokens",
                     "usage.completion_tokens_details.reasoning_tokens", max, out.reasoning);
}

maybe_error read_responses(const json::object& usage, std::int64_t max, reported_counts& out) {
  if (auto e = read_count(find_member(usage, "input_tokens"), "usage.input_tokens", max, out.input)) return e;
  if (auto e = read_count(find_member(usage, "output_tokens"), "usage.output_tokens", max, out.output)) return e;
  if (auto e = read_count(find_member(usage, "total_tokens"), "usage.total_tokens", max, out.total)) return e;
  if (auto e = read_detail(usage, "input_tokens_details", "usage.input_tokens_details", "cached_tokens",
                           "usage.input_tokens_details.cached_tokens", max, out.cache_read)) {
    return e;
  }
  return read_detail(usage, "output_tokens_details", "usage.output_tokens_details", "reasoning_tokens",
                     "usage.output_tokens_details.reasoning_tokens", max, out.reasoning);
}

/// Anthropic's `input_tokens` excludes cache reads and writes; the normalised input is the sum of all three.
maybe_error read_anthropic_messages(const json::object& usage, std::int64_t max, reported_counts& out) {
  std::optional<count_source> uncached;
  if (auto e = read_count(find_member(usage, "input_tokens"), "usage.input_tokens", max, uncached)) return e;
  if (auto e = read_count(find_member(usage, "cache_creation_input_tokens"), "usage.cache_creation_input_tokens",
                          max, out.cache_write)) {
    return e;
  }
  if (auto e = read_count(find_member(usage, "cache_read_input_tokens"), "usage.cache_read_input_tokens", max,
                          out.cache_read)) {
    return e;
  }
  if (auto e = read_count(find_member(usage, "output_tokens"), "usage.output_tokens", max, out.output)) return e;
  if (uncached || out.cache_write || out.cache_read) {
    // Each part is at most 10^12, so the sum cannot overflow.
    const std::int64_t sum = (uncached ? uncached->value : 0) + (out.cache_write ? out.cache_write->value : 0) +
                             (out.cache_read ? out.cache_read->value : 0);
    // Named by its sum: it only ever appears in messages (errors name the flat field or the part instead).
    out.input = count_source{sum, "usage.input_tokens + cache_creation_input_tokens + cache_read_input_tokens"};
  }
  return std::nullopt;
}

maybe_error read_native_usage(const json::value& usage_value, std::string_view provider, std::int64_t max,
                              reported_counts& out) {
  const json::object* usage = usage_value.if_object();
  if (usage == nullptr) {
    return bad_field("usage", fmt::format("usage must be an object, not {}", kind_name(usage_value)));
  }
  const auto shape = detect_shape(*usage, provider);
  if (!shape) {
    // Reading nothing would store an event with zero tokens, silently; better to say so.
    return bad_field("usage",
                     "usage is not an OpenAI Chat Completions, OpenAI Responses or Anthropic Messages usage object "
                     "(none of prompt_tokens, completion_tokens, input_tokens, output_tokens is present)");
  }
  switch (*shape) {
    case usage_shape::chat_completions: return read_chat_completions(*usage, max, out);
    case usage_shape::responses: return read_responses(*usage, max, out);
    case usage_shape::anthropic_messages: return read_anthropic_messages(*usage, max, out);
  }
  return std::nullopt;
}

/// A class reported both flat and in `usage` must agree; the flat field is named because it is the one the client
/// wrote by hand, the native one being what the provider said.
maybe_error reconcile(std::optional<count_source>& flat, const std::optional<count_source>& native,
                      std::string_view token_class) {
  if (!native) return std::nullopt;
  if (!flat) {
    flat = native;
    return std::nullopt;
  }
  if (flat->value != native->value) {
    return bad_field(flat->field, fmt::format("{} is {} but {} says {} {} tokens", flat->field, flat->value,
                                              native->field, native->value, token_class));
  }
  return std::nullopt;
}

std::int64_t value_or_zero(const std::optional<count_source>& c) noexcept { return c ? c->value : 0; }

}  // namespace

maybe_error read_token_counts(const json::object& body, std::string_view provider, const event_limits& limits,
                              usage_event& event) {
  const std::int64_t max = limits.tokens_max;
  // Top-level input_tokens/output_tokens would be read differently by OpenAI (cache included) and Anthropic
  // (cache excluded) users; rather than store a silent zero or guess, say where the counts belong.
  for (const std::string_view key : {"input_tokens", "output_tokens", "inputTokens", "outputTokens"}) {
    if (const json::value* v = find_member(body, key); v && !v->is_null()) {
      return bad_field(key, fmt::format("{} is not a top-level field: send prompt_tokens/completion_tokens, or the "
                                        "provider's usage object as `usage`",
                                        key));
    }
  }
  reported_counts flat;
  if (auto e = read_aliased_count(body, "prompt_tokens", "promptTokens", max, flat.input)) return e;
  if (auto e = read_aliased_count(body, "completion_tokens", "completionTokens", max, flat.output)) return e;
  if (auto e = read_aliased_count(body, "total_tokens", "totalTokens", max, flat.total)) return e;
  if (auto e = read_aliased_count(body, "cache_read_tokens", "cacheReadTokens", max, flat.cache_read)) return e;
  if (auto e = read_aliased_count(body, "cache_write_tokens", "cacheWriteTokens", max, flat.cache_write)) return e;
  if (auto e = read_aliased_count(body, "reasoning_tokens", "reasoningTokens", max, flat.reasoning)) return e;

  if (const json::value* usage = find_member(body, "usage")) {
    reported_counts native;
    if (auto e = read_native_usage(*usage, provider, max, native)) return e;
    if (auto e = reconcile(flat.input, native.input, "input")) return e;
    if (auto e = reconcile(flat.output, native.output, "output")) return e;
    if (auto e = reconcile(flat.total, native.total, "total")) return e;
    if (auto e = reconcile(flat.cache_read, native.cache_read, "cache read")) return e;
    if (auto e = reconcile(flat.cache_write, native.cache_write, "cache write")) return e;
    if (auto e = reconcile(flat.reasoning, native.reasoning, "reasoning")) return e;
  }

  const std::int64_t cache_read = value_or_zero(flat.cache_read);
  const std::int64_t cache_write = value_or_zero(flat.cache_write);
  const std::int64_t reasoning = value_or_zero(flat.reasoning);
  // A whole that is not reported is the sum of its reported parts (nothing else is known of it).
  const std::int64_t input = flat.input ? flat.input->value : cache_read + cache_write;
  const std::int64_t output = flat.output ? flat.output->value : reasoning;

  if (flat.input) {
    const std::string_view whole = flat.input->field;
    if (cache_read > input) {
      return bad_field(flat.cache_read->field,
                       fmt::format("{} ({}) exceeds {} ({}), the whole input it is part of", flat.cache_read->field,
                                   cache_read, whole, input));
    }
    if (cache_write > input) {
      return bad_field(flat.cache_write->field,
                       fmt::format("{} ({}) exceeds {} ({}), the whole input it is part of", flat.cache_write->field,
                                   cache_write, whole, input));
    }
    if (cache_read + cache_write > input) {
      return bad_field(flat.cache_write->field,
                       fmt::format("{} + {} ({}) exceed {} ({}), the whole input they are part of",
                                   flat.cache_read->field, flat.cache_write->field, cache_read + cache_write, whole,
                                   input));
    }
  }
  if (flat.output && reasoning > output) {
    return bad_field(flat.reasoning->field,
                     fmt::format("{} ({}) exceeds {} ({}), the whole output it is part of", flat.reasoning->field,
                                 reasoning, flat.output->field, output));
  }
  const std::int64_t sum = input + output;
  if (flat.total && flat.total->value < sum) {
    return bad_field(flat.total->field, fmt::format("{} ({}) is less than input + output tokens ({})",
                                                    flat.total->field, flat.total->value, sum));
  }

  event.tokens = {.input = input,
                  .output = output,
                  .total = flat.total ? flat.total->value : sum,
                  .cache_read = cache_read,
                  .cache_write = cache_write,
                  .reasoning = reasoning};
  return std::nullopt;
}

}  // namespace cg::ingest::detail
