#include "price_table_impl.hpp"

#include "cg/values/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

// The embedded copy of pricing/data/prices.json, placed in .rodata by src/embedded_prices.S (.incbin).
extern "C" {
extern const char cg_pricing_embedded_prices[];
extern const std::uint64_t cg_pricing_embedded_prices_size;
}

namespace cg::pricing {
namespace {

std::string describe_errno() { return std::generic_category().message(errno); }

/// A finite, non-negative double as the exact decimal its shortest round-trip text says: 0.1 → 1 × 10^-1.
detail::decimal_quantity to_decimal_quantity(double value) {
  if (value == 0) return {};  // also -0.0, whose text has a sign
  char buffer[40];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific).ptr;
  // "d[.ddd]e±XX": the digits without the point form the mantissa (at most 17 digits: fits uint64).
  detail::decimal_quantity q;
  int fraction_digits = 0;
  bool after_point = false;
  const char* p = buffer;
  for (; p != end && *p != 'e'; ++p) {
    if (*p == '.') {
      after_point = true;
      continue;
    }
    q.mantissa = q.mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
    if (after_point) ++fraction_digits;
  }
  int exponent = 0;
  if (p != end) std::from_chars(p[1] == '+' ? p + 2 : p + 1, end, exponent);
  q.exponent = exponent - fraction_digits;
  if (q.mantissa == 0) q.exponent = 0;
  return q;
}

}  // namespace

// --- resolution (reference README §4) -----------------------------------------------------------------------------

std::optional<std::size_t> price_table::impl::provider_by_name(std::string_view name) const {
  if (const auto found = provider_by_id.find(name); found != provider_by_id.end()) return found->second;
  for (std::size_t i = 0; i < providers.size(); ++i) {
    if (providers[i].provider_match && providers[i].provider_match->matches(name)) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> price_table::impl::provider_by_api_url(std::string_view url) const {
  for (std::size_t i = 0; i < providers.size(); ++i) {
    if (std::regex_search(url.begin(), url.end(), providers[i].api_pattern, std::regex_constants::match_continuous)) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> price_table::impl::provider_by_model(std::string_view normalised_model) const {
  for (std::size_t i = 0; i < providers.size(); ++i) {
    if (providers[i].model_match && providers[i].model_match->matches(normalised_model)) return i;
  }
  return std::nullopt;
}

price_table::impl::resolution price_table::impl::resolve(std::string_view provider_arg, std::string_view url_arg,
                                                         std::string_view model_arg) const {
  const std::string provider_name = detail::normalise(provider_arg);
  std::string model_name = detail::normalise(model_arg);
  resolution result;
  bool decided = false;  // a rule applied, so the provider (or its absence) is final
  if (!provider_name.empty()) {
    result.provider = provider_by_name(provider_name);
    decided = true;
    // A named provider that nothing recognises is final (null), except LiteLLM, which routes by a
    // "<provider>/<model>" prefix; without a usable prefix it carries on as if no provider had been named.
    if (!result.provider && provider_name == "litellm") {
      decided = false;
      if (const auto slash = model_name.find('/'); slash != std::string::npos) {
        const std::string_view whole{model_name};
        if (const auto prefixed = provider_by_name(detail::normalise(whole.substr(0, slash)))) {
          result.provider = prefixed;
          model_name = detail::normalise(whole.substr(slash + 1));
          decided = true;
        }
      }
    }
  }
  if (!decided) {
    const std::string_view url = values::trim(url_arg);
    result.provider = url.empty() ? provider_by_model(model_name) : provider_by_api_url(url);
  }
  if (!result.provider) return result;

  const detail::provider& chosen = providers[*result.provider];
  result.model = chosen.find_model(model_name);
  // Fallbacks are one level deep and report the provider that was asked for (azure + gpt-4o-mini → azure).
  for (auto fallback = chosen.fallbacks.begin(); result.model == nullptr && fallback != chosen.fallbacks.end();
       ++fallback) {
    result.model = providers[*fallback].find_model(model_name);
  }
  return result;
}

std::optional<price_quote> price_table::impl::price(std::string_view provider_arg, std::string_view model_arg,
                                                    std::int64_t timestamp_us,
                                                    const detail::unit_quantities& quantities) const {
  const auto resolved = resolve(provider_arg, {}, model_arg);
  if (resolved.model == nullptr) return std::nullopt;
  const detail::conditional_price& element = resolved.model->select(timestamp_us);
  const auto cost = element.prices.cost(quantities);
  if (!cost) return std::nullopt;
  return price_quote{cost->total, cost->input, cost->output, providers[*resolved.provider].id, resolved.model->id,
                     element.price_ref};
}

// --- price_table ----------------------------------------------------------------------------------------------------

price_table::price_table(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

price_table::~price_table() = default;

std::shared_ptr<const price_table> price_table::from_json(std::string_view text, std::string source_name) {
  return std::shared_ptr<const price_table>(new price_table(impl::parse(text, std::move(source_name))));
}

std::shared_ptr<const price_table> price_table::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw price_table_error(fmt::format("{}: cannot open: {}", path.string(), describe_errno()));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw price_table_error(fmt::format("{}: cannot read: {}", path.string(), describe_errno()));
  return from_json(text, path.string());
}

std::shared_ptr<const price_table> price_table::embedded() {
  // Parsed on first use (C++ guarantees one thread does it); a throw leaves it unset so the next call retries.
  static const std::shared_ptr<const price_table> table = [] {
    const std::string_view text{cg_pricing_embedded_prices, static_cast<std::size_t>(cg_pricing_embedded_prices_size)};
    auto state = impl::parse(text, "embedded pricing/data/prices.json");
    state->source = fmt::format("embedded:{}@{}", state->source_name, state->source_commit.substr(0, 7));
    return std::shared_ptr<const price_table>(new price_table(std::move(state)));
  }();
  return table;
}

std::shared_ptr<const price_table> price_table::configured(const std::filesystem::path& pricing_file) {
  return pricing_file.empty() ? embedded() : from_file(pricing_file);
}

std::optional<price_quote> price_table::quote(std::string_view provider, std::string_view model,
                                              std::int64_t timestamp_us, const token_counts& usage) const {
  detail::unit_quantities quantities{};
  quantities[impl_->input_unit] = usage.input;
  quantities[impl_->output_unit] = usage.output;
  quantities[impl_->cache_read_unit] = usage.cache_read;
  quantities[impl_->cache_write_unit] = usage.cache_write;
  quantities[impl_->reasoning_unit] = usage.reasoning;
  return impl_->price(provider, model, timestamp_us, quantities);
}

std::optional<price_quote> price_table::quote_units(std::string_view provider, std::string_view model,
                                                    std::int64_t timestamp_us,
                                                    std::span<const unit_quantity> usage) const {
  detail::unit_quantities quantities{};
  for (const auto& [usage_key, quantity] : usage) {
    const auto index = impl_->units.find_usage_key(usage_key);
    if (!index || quantity <= 0) continue;
    std::int64_t& slot = quantities[*index];
    if (__builtin_add_overflow(slot, quantity, &slot)) return std::nullopt;
  }
  return impl_->price(provider, model, timestamp_us, quantities);
}

price_calculation price_table::calculate(const price_request& request) const {
  price_calculation result;
  const auto resolved = impl_->resolve(request.provider, request.provider_api_url, request.model);
  if (resolved.provider) result.provider_id = impl_->providers[*resolved.provider].id;
  if (resolved.model != nullptr) result.model_id = resolved.model->id;

  // Bad quantities are an error whether or not a price is known: they are wrong in any table.
  detail::exact_usage usage;
  for (const auto& [usage_key, quantity] : request.usage) {
    const auto index = impl_->units.find_usage_key(usage_key);
    if (!index) continue;
    if (!std::isfinite(quantity) || quantity < 0) {
      result.error = fmt::format("usage.{}: must be a finite number >= 0, not {}", usage_key, quantity);
      return result;
    }
    if (usage.reported.test(*index)) {
      result.error = fmt::format("usage.{}: given twice", usage_key);
      return result;
    }
    usage.reported.set(*index);
    usage.values[*index] = to_decimal_quantity(quantity);
  }
  if (resolved.model == nullptr) return result;

  const detail::conditional_price& element = resolved.model->select(request.timestamp_us);
  result.price_ref = element.price_ref;
  detail::exact_cost cost;
  result.error = element.prices.calculate(usage, impl_->units, cost);
  if (!result.error.empty()) return result;
  result.total = std::move(cost.total);
  result.input = std::move(cost.input);
  result.output = std::move(cost.output);
  return result;
}

std::optional<std::string> price_table::provider_for_api_url(std::string_view url) const {
  const auto index = impl_->provider_by_api_url(url);
  if (!index) return std::nullopt;
  return impl_->providers[*index].id;
}

bool price_table::is_usage_key(std::string_view usage_key) const {
  return impl_->units.find_usage_key(usage_key).has_value();
}

const std::string& price_table::source() const noexcept { return impl_->source; }

table_format price_table::format() const noexcept { return impl_->format; }

const std::string& price_table::source_commit() const noexcept { return impl_->source_commit; }

std::string price_table::fingerprint() const { return fmt::format("{:016x}", impl_->fingerprint); }

std::size_t price_table::provider_count() const noexcept { return impl_->providers.size(); }

std::size_t price_table::model_count() const noexcept { return impl_->model_count; }

const std::vector<std::string>& price_table::warnings() const noexcept { return impl_->warnings; }

}  // namespace cg::pricing
